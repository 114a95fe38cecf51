import Bert
import Distillation
import Foundation
import Logging
import TeacherCache
import TestSupport
import XCTest
@testable import Pipelines

/// Pipeline files: loading and validation, grids, the derived cache, the plan, and a whole study
/// run end to end on the tiny fixture teacher (then run again: everything is skipped).
final class PipelineTests: XCTestCase {
    var folder: URL!
    let logger = Logger(label: "test")
    override func setUpWithError() throws { folder = try makeTemporaryDirectory("distillery-pipelines") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    var tinyBase: String { packageRoot.appendingPathComponent("Tests/Fixtures/bert/tiny-base").path }

    func write(_ text: String, _ name: String = "study.yaml") throws -> URL {
        let url = folder.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func study(grid: String = "", students: String = "", extra: String = "") throws -> URL {
        let train = try writeLabelledSentences(in: folder, rows: 48, name: "train.jsonl")
        let dev = try writeLabelledSentences(in: folder, rows: 12, name: "dev.jsonl", offset: 500)
        let test = try writeLabelledSentences(in: folder, rows: 12, name: "test.jsonl", offset: 900)
        return try write("""
        name: tiny
        teacher:
          finetune: {from: \(tinyBase), epochs: 2, learning_rate: 0.001, batch_size: 8}
        data: {train: \(train.path), dev: \(dev.path), test: \(test.path), label_field: label, max_length: 24}
        training: {epochs: 1, batch_size: 8, learning_rate: 0.001, student: {layers: 1}}
        \(extra)
        \(grid)
        \(students)
        """)
    }

    func testGridExpandsWithNamesAndGroups() throws {
        let url = try study(grid: """
        grid:
          objectives:
            kd: {kd: 1}
            attention: {kd: 0.5, attention_kl: 1}
          init: [lower, upper]
          seeds: [0, 1]
        """, students: """
        students:
          - {name: extra, objectives: {ce: 1}, student: {init: random}}
        """)
        let pipeline = try Pipeline.load(url, results: folder)
        XCTAssertEqual(pipeline.students.map(\.named.name), ["extra", "kd-lower-s0", "kd-lower-s1", "kd-upper-s0", "kd-upper-s1",
                                                              "attention-lower-s0", "attention-lower-s1", "attention-upper-s0", "attention-upper-s1"])
        XCTAssertEqual(pipeline.students[3].group, "kd-upper")
        XCTAssertEqual(pipeline.students[3].named.spec.seed, 0)
        XCTAssertEqual(pipeline.students[4].named.spec.seed, 1)
        XCTAssertEqual(pipeline.students[5].named.spec.objectives, [.kd: 0.5, .attentionKL: 1])
        XCTAssertEqual(pipeline.students[5].named.spec.student.layers, 1, "training defaults apply under the grid")
        XCTAssertEqual(pipeline.students[5].named.spec.student.initialization, .teacher(.lower))
        XCTAssertEqual(pipeline.students[0].objectivesColumn, "ce=1", "an explicit student's weights, once")
        XCTAssertEqual(pipeline.students[5].objectivesColumn, "attention (\(Pipeline.describe([.kd: 0.5, .attentionKL: 1])))")
        XCTAssertEqual(StudentGrid.strippingSeed("{objectives}-{init}-s{seed}"), "{objectives}-{init}")
        XCTAssertEqual(StudentGrid.strippingSeed("{seed}-{init}"), "{init}")
    }

    /// The derived cache is the union of what the students read.
    func testDerivedCacheIsTheUnionOfTheStudentsNeeds() throws {
        let url = try study(grid: """
        grid:
          objectives:
            kd: {kd: 1}
            hidden: {hidden_mse: 1}
            attention: {attention_kl: 1}
            relations: {relations: 1, kd_topk: 1}
          init: [lower]
        """, extra: "")
        let pipeline = try Pipeline.load(url, results: folder)
        let config = try BertConfig.load(from: URL(fileURLWithPath: tinyBase).appendingPathComponent("config.json"))
        var students = pipeline.students.map(\.named)
        for i in students.indices { students[i].spec.relationHeads = 4; students[i].spec.hiddenMapping = try LayerMapping(parsing: "0:0,1:2") }
        let spec = try CachePlanner.derive(for: students, teacher: config, labelled: true, maxLength: 24)
        XCTAssertEqual(spec.hiddenLayers, [0, 2])
        XCTAssertEqual(spec.attentionLayers, [2])
        XCTAssertEqual(spec.relationLayers, [2])
        XCTAssertEqual(spec.logits, [.full, .topk])
        XCTAssertEqual(spec.maxLength, 24)
    }

    func testBadFilesAreNamedByField() throws {
        func message(_ text: String) -> String {
            do { _ = try Pipeline.load(try write(text, "bad.yaml"), results: folder); return "no error" } catch { return "\(error)" }
        }
        let data = "data: {train: t.jsonl, label_field: label}"
        XCTAssertTrue(message("teacher: {path: x, finetune: {from: y}}\n\(data)").contains("teacher"))
        XCTAssertTrue(message("teacher: {path: x}\n\(data)\nstudents:\n  - {name: a, epochz: 2}").contains("epochz"))
        XCTAssertTrue(message("teacher: {path: x}\n\(data)\nstudents:\n  - {name: a, objectives: {kd: heavy}}").contains("students[0].objectives.kd"))
        XCTAssertTrue(message("teacher: {path: x}\ndata: {train: t.jsonl}\nstudents:\n  - {name: a}").contains("label_field"))
        XCTAssertTrue(message("teacher: {path: x}\n\(data)\nstudents:\n  - {name: a}\n  - {name: a}").contains("two students"))
    }

    /// A whole study: the teacher fine-tuned, cached once, two students trained together,
    /// evaluated on dev and test; tables and report written. The same run again does no work.
    func testStudyRunsEndToEndAndAgainSkipsEverything() throws {
        let url = try study(grid: """
        grid:
          objectives:
            kd: {kd: 0.5, ce: 0.5}
            hidden: {kd: 0.5, ce: 0.5, hidden_mse: 1}
          init: [lower]
          seeds: [0, 1]
        """)
        let pipeline = try Pipeline.load(url, results: folder.appendingPathComponent("results"))
        let plan = try StudyPlan.make(pipeline, results: folder.appendingPathComponent("results"), logger: logger)
        XCTAssertTrue(plan.description.contains("students (4)"), plan.description)
        XCTAssertEqual(plan.cacheSpec.logits, [.full])
        XCTAssertEqual(plan.cacheSpec.hiddenLayers, [0, 2], "uniform mapping of a 1-layer student on a 2-layer teacher")
        XCTAssertGreaterThan(plan.cacheBytes, 0)
        XCTAssertNoThrow(try plan.checkDisk(results: folder))
        var tooBig = plan
        tooBig.availableBytes = 10
        XCTAssertThrowsError(try tooBig.checkDisk(results: folder)) { XCTAssertTrue("\($0)".contains("only 10 B are free"), "\($0)") }

        final class Stages { var seen: [String: Int] = [:] }
        let stages = Stages()
        let runner = StudyRunner(pipeline: pipeline, results: folder.appendingPathComponent("results"), logger: logger) {
            stages.seen[$0.stage] = max(stages.seen[$0.stage] ?? 0, $0.done)
        }
        let results = try runner.run()
        XCTAssertEqual(results.students.count, 4)
        XCTAssertEqual(stages.seen["evaluate 5 models"], 5, "the report stage shows progress per model scored: \(stages.seen)")
        XCTAssertTrue(results.students.allSatisfy { $0.status == "trained" }, "\(results.students.map(\.status))")
        XCTAssertNotNil(results.teacher.dev["accuracy"])
        XCTAssertNotNil(results.students[0].test["accuracy"])
        for file in ["results.md", "results.csv", "results.json", "report.html", "teacher/best/model.safetensors",
                     "cache/train.h5", "cache/dev.h5", "cache/test.h5", "students/kd-s1/done.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: runner.folder.appendingPathComponent(file).path), file)
        }
        let table = try String(contentsOf: runner.folder.appendingPathComponent("results.md"), encoding: .utf8)
        XCTAssertTrue(table.contains("| kd ") && table.contains("| hidden "), table)
        let weights = try Data(contentsOf: runner.folder.appendingPathComponent("students/kd-s0/final/model.safetensors"))

        // Again: nothing is trained or cached twice, the results are the same.
        let again = try StudyRunner(pipeline: pipeline, results: folder.appendingPathComponent("results"), logger: logger).run()
        XCTAssertEqual(again.students.map(\.dev), results.students.map(\.dev))
        XCTAssertEqual(try Data(contentsOf: runner.folder.appendingPathComponent("students/kd-s0/final/model.safetensors")), weights)
        XCTAssertLessThan(again.stages.first { $0.name == "students" }!.seconds, 2, "finished students are skipped")
    }

    /// Every shipped pipeline loads and expands as documented.
    func testShippedPipelinesLoad() throws {
        let folder = packageRoot.appendingPathComponent("pipelines")
        func load(_ name: String) throws -> Pipeline { try Pipeline.load(folder.appendingPathComponent(name), results: self.folder) }
        let demo = try load("demo.yaml")
        XCTAssertEqual(demo.students.map(\.named.name), ["kd-lower", "kd-upper", "hidden-lower", "hidden-upper", "attention-lower", "attention-upper"])
        XCTAssertTrue(demo.students.allSatisfy { $0.named.spec.student.layers == 3 })
        let study = try load("seed-study.yaml")
        XCTAssertEqual(study.students.count, 45)
        XCTAssertEqual(Set(study.students.map(\.group)).count, 15)
        XCTAssertEqual(study.students.filter { $0.named.spec.objectives[.ted] != nil }.count, 9)
        let agnostic = try load("seed-study-agnostic.yaml")
        XCTAssertEqual(agnostic.setting, .taskAgnostic)
        XCTAssertNotNil(agnostic.studentFinetune)
        XCTAssertEqual(agnostic.students.count, 9)
    }
}
