import Foundation
import Kernels
import Logging
import TeacherCache
import TestSupport
import XCTest
@testable import Distillation

/// Many students in one pass, resumable runs, and what a re-run does with finished students.
final class StudentGroupTests: XCTestCase {
    static var folder: URL!
    static var caches: (train: URL, dev: URL)!
    let logger = Logger(label: "test")
    let teacher = TrainFixtures.teacher("cls")

    override class func setUp() {
        super.setUp()
        folder = try! makeTemporaryDirectory("distillery-group-tests")
        caches = try! TrainFixtures.caches(in: folder, trainRows: 44)
    }

    override class func tearDown() {
        try? FileManager.default.removeItem(at: folder)
        super.tearDown()
    }

    override func tearDown() {
        Threads.configure(1)
        super.tearDown()
    }

    /// Three different students (objectives, initialisation, seed, dropout), 2 epochs with a short last batch.
    func students() throws -> [NamedStudent] {
        var a = TrainFixtures.spec([.kd: 1, .hiddenMSE: 1], steps: 0)
        a.hiddenMapping = try LayerMapping(parsing: "0:0,1:2")
        var b = TrainFixtures.spec([.ce: 0.5, .kd: 0.5, .attentionKL: 1], steps: 0)
        b.student.initialization = .teacher(.upper); b.seed = 3; b.student.dropout = 0.2
        var c = TrainFixtures.spec([.relations: 1, .kdSampled: 1], steps: 0)
        c.student.initialization = .random; c.seed = 11
        for i in [0, 1, 2] {
            var s = [a, b, c][i]
            s.maxSteps = 0; s.epochs = 2; s.evalEvery = 4
            if i == 0 { a = s } else if i == 1 { b = s } else { c = s }
        }
        return [NamedStudent(name: "a", spec: a), NamedStudent(name: "b", spec: b), NamedStudent(name: "c", spec: c)]
    }

    func trainer(_ s: NamedStudent) throws -> StudentTrainer {
        try StudentTrainer(spec: s.spec, cache: Self.caches.train, teacherDirectory: teacher, logger: logger, name: s.name)
    }

    func weights(_ t: StudentTrainer) -> [Float] { t.student.parameters.storage.toArray() }

    /// The same seeds give the same students, bit for bit, whether each trains alone or all train
    /// together — side by side on one thread each, or one after another on two threads.
    func testTogetherEqualsAlone() throws {
        try checkTogetherEqualsAlone(try students())
    }

    /// The same with every student's matrix products in bf16 (`precision: bf16`).
    func testTogetherEqualsAloneInBF16() throws {
        if let reason = Precision.bf16.unsupportedReason { throw XCTSkip(reason) }
        try checkTogetherEqualsAlone(try students().map { var s = $0; s.spec.precision = .bf16; return s })
    }

    private func checkTogetherEqualsAlone(_ list: [NamedStudent]) throws {
        Threads.configure(1)
        let alone = try list.map { s -> (weights: [Float], losses: [[ObjectiveKind: Double]], evaluations: [Double]) in
            let t = try trainer(s)
            let summary = try t.train(dev: Self.caches.dev, run: nil)
            return (weights(t), summary.lossHistory, summary.evaluations.map(\.loss))
        }
        XCTAssertEqual(alone[0].losses.count, 12, "44 sequences in batches of 8: 6 updates per epoch, 2 epochs")
        for schedule in [StudentGroup.Schedule.concurrent, .sequential, .auto] {
            let trainers = try list.map(trainer)
            let group = StudentGroup(members: trainers.map { .init(trainer: $0, run: nil, dev: Self.caches.dev) }, threads: 2, logger: logger)
            let outcomes = try group.run(schedule: schedule)
            XCTAssertEqual(group.passes.count, 1, "one shared pass")
            XCTAssertEqual(group.passes[0].batches, 12)
            for (k, outcome) in outcomes.enumerated() {
                XCTAssertNil(outcome.error)
                XCTAssertEqual(outcome.summary!.lossHistory, alone[k].losses, "\(schedule): student \(list[k].name) losses")
                XCTAssertEqual(outcome.summary!.evaluations.map(\.loss), alone[k].evaluations, "\(schedule): \(list[k].name) dev losses")
                XCTAssertTrue(weights(trainers[k]) == alone[k].weights, "\(schedule): student \(list[k].name) weights differ")
            }
        }
    }

    /// Students with another batch size or data seed cannot share batches: they get a pass of their own.
    func testOtherBatchSizesGetTheirOwnPass() throws {
        var list = try students()
        list[1].spec.batchSize = 4
        let trainers = try list.map(trainer)
        let group = StudentGroup(members: trainers.map { .init(trainer: $0, run: nil, dev: nil) }, threads: 1, logger: logger)
        let outcomes = try group.run()
        XCTAssertEqual(group.passes.map(\.students), [["a", "c"], ["b"]])
        XCTAssertEqual(outcomes[1].summary?.steps, 22)
    }

    /// A run stopped by a signal checkpoints; `resume` continues it to the same weights, metrics
    /// and evaluations as an uninterrupted run. A run killed without warning (kill -9) resumes
    /// from its last periodic checkpoint to the same result.
    func testResumeGivesTheUninterruptedResult() throws {
        try checkResume(precision: nil)
    }

    /// The same in bf16.
    func testResumeGivesTheUninterruptedResultInBF16() throws {
        if let reason = Precision.bf16.unsupportedReason { throw XCTSkip(reason) }
        try checkResume(precision: .bf16)
    }

    private func checkResume(precision: Precision?) throws {
        Threads.configure(1)
        var spec = try students()[0].spec
        spec.precision = precision
        spec.checkpointEvery = 3
        let student = NamedStudent(name: "a", spec: spec)
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }

        let reference = try trainer(student)
        let referenceRun = try RunFolder(url: root.appendingPathComponent("reference"))
        _ = try reference.train(dev: Self.caches.dev, run: referenceRun)

        // Interrupted after update 5 (a signal): checkpoint at 5, then resumed.
        let runURL = root.appendingPathComponent("interrupted")
        let first = try trainer(student)
        var updates = 0
        let group = StudentGroup(members: [.init(trainer: first, run: try RunFolder(url: runURL), dev: Self.caches.dev)], threads: 1, logger: logger)
        XCTAssertThrowsError(try group.run(schedule: .sequential, stop: { updates += 1; return updates == 5 ? SIGINT : nil })) { error in
            guard case DistillationError.interrupted(let signal, let detail) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(signal, SIGINT)
            XCTAssertTrue(detail.contains("a at update 5"), detail)
        }
        let resumed = try trainer(student)
        let summary = try resumed.train(dev: Self.caches.dev, run: try RunFolder(url: runURL), resume: true)
        XCTAssertEqual(summary.resumedAt, 5)
        XCTAssertTrue(weights(resumed) == weights(reference), "resumed weights differ from the uninterrupted run's")
        try assertSameLogs(runURL, root.appendingPathComponent("reference"))

        // Killed after update 8 with no checkpoint but the periodic one at 6: metrics 7–8 were
        // logged and must go; the run continues from 6.
        let killedURL = root.appendingPathComponent("killed")
        let killed = try trainer(student)
        var count = 0
        let killedGroup = StudentGroup(members: [.init(trainer: killed, run: try RunFolder(url: killedURL), dev: Self.caches.dev)], threads: 1, logger: logger)
        // Emulate the kill: the stop hook copies the folder as it is after update 8 (a snapshot of a process that died there).
        let snapshot = root.appendingPathComponent("snapshot")
        _ = try killedGroup.run(schedule: .sequential, stop: {
            count += 1
            if count == 8 { try? FileManager.default.copyItem(at: killedURL, to: snapshot) }
            return nil
        })
        let afterKill = try trainer(student)
        let resumedSummary = try afterKill.train(dev: Self.caches.dev, run: try RunFolder(url: snapshot), resume: true)
        XCTAssertEqual(resumedSummary.resumedAt, 6)
        XCTAssertTrue(weights(afterKill) == weights(reference), "weights after kill and resume differ")
        try assertSameLogs(snapshot, root.appendingPathComponent("reference"))
    }

    /// Logs equal line for line except the wall-clock fields.
    func assertSameLogs(_ a: URL, _ b: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        for name in ["metrics.jsonl", "eval.jsonl"] {
            func lines(_ folder: URL) throws -> [NSDictionary] {
                try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8).split(separator: "\n").map {
                    let json = try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
                    return json.filter { !["tokens_per_second", "cache_wait_share"].contains($0.key) } as NSDictionary
                }
            }
            XCTAssertEqual(try lines(a), try lines(b), name, file: file, line: line)
        }
    }

    /// A finished student is skipped when the same configuration and cache come again; a changed
    /// one is refused until forced; an unfinished folder needs --resume or --force.
    func testFinishedStudentsAreNotTrainedAgain() throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        var list = Array(try students().prefix(2))
        for i in list.indices { list[i].spec.maxSteps = 3 }
        func launch(_ options: StudentLaunch.Options = .init()) -> StudentLaunch {
            StudentLaunch(students: list, cache: Self.caches.train, dev: nil, teacher: teacher,
                          folder: { root.appendingPathComponent($0.name) }, options: options, logger: logger)
        }
        let first = launch()
        XCTAssertEqual(first.members.count, 2)
        XCTAssertTrue(try StudentGroup(members: first.members, threads: 1).run().allSatisfy { $0.error == nil })
        let again = launch()
        XCTAssertEqual(again.members.count, 0)
        XCTAssertEqual(again.skipped.map(\.name), ["a", "b"])
        list[0].spec.learningRate = 5e-4
        let changed = launch()
        XCTAssertEqual(changed.skipped.map(\.name), ["b"])
        XCTAssertEqual(changed.rejected.map(\.name), ["a"])
        XCTAssertTrue("\(changed.rejected.first?.error as Any)".contains("another configuration"), "\(changed.rejected)")
        let restarted = launch(.init(restartChanged: true))
        XCTAssertEqual(restarted.members.map(\.trainer.name), ["a"], "a study restarts a changed student (b is unchanged: skipped)")
        XCTAssertEqual(restarted.skipped.map(\.name), ["b"])
        let forced = launch(.init(force: true))
        XCTAssertEqual(forced.members.count, 2, "--force starts both over")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("a/done.json").path))
        // An unfinished run in the way.
        try Data("{\"step\": 1}\n".utf8).write(to: root.appendingPathComponent("a/metrics.jsonl"))
        let blocked = launch()
        XCTAssertTrue("\(blocked.rejected.first?.error as Any)".contains("--resume"), "\(blocked.rejected)")
    }

    /// A student the cache cannot serve is rejected before anything trains, naming it and the
    /// reason; a student that diverges mid-run fails alone; the others finish.
    func testOneFailingStudentDoesNotStopTheOthers() throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        var list = try students()
        list[0].spec.hiddenMapping = try LayerMapping(parsing: "0:0,1:3")      // teacher layer 3 does not exist
        list[1].spec.student.hiddenSize = 16; list[1].spec.student.heads = 2   // cannot copy 32-wide layers
        list[1].spec.objectives = [.kd: 1]
        let diverging = NamedStudent(name: "diverges", spec: { var s = list[2].spec; s.learningRate = 1e9; s.clipNorm = 0; return s }())
        let launch = StudentLaunch(students: list + [diverging], cache: Self.caches.train, dev: nil, teacher: teacher,
                                   folder: { root.appendingPathComponent($0.name) }, options: .init(), logger: logger)
        XCTAssertEqual(launch.rejected.map(\.name), ["a", "b"])
        XCTAssertTrue("\(launch.rejected[0].error)".contains("teacher layer") || "\(launch.rejected[0].error)".contains("3"), "\(launch.rejected[0].error)")
        // Another teacher folder than the cache's: refused by its weights' hash.
        let other = StudentLaunch(students: [list[2]], cache: Self.caches.train, dev: nil, teacher: TrainFixtures.teacher("mlm"),
                                  folder: { root.appendingPathComponent("other-" + $0.name) }, options: .init(), logger: logger)
        XCTAssertTrue("\(other.rejected.first?.error as Any)".contains("is not the teacher"), "\(other.rejected)")
        XCTAssertTrue("\(launch.rejected[1].error)".contains("equal widths"), "\(launch.rejected[1].error)")
        let outcomes = try StudentGroup(members: launch.members, threads: 2).run(schedule: .concurrent)
        XCTAssertEqual(outcomes.map(\.name), ["c", "diverges"])
        XCTAssertNotNil(outcomes[0].summary)
        XCTAssertTrue("\(outcomes[1].error as Any)".contains("diverged"), "\(outcomes[1].error as Any)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent("c/final/model.safetensors").path))
    }

    /// Skipping batches of an epoch (a resumed run) gives exactly the batches that would have followed.
    func testCacheBatchesSkipResumesTheSameOrder() throws {
        let reader = try CacheReader(url: Self.caches.train)
        func ids(skip: Int) throws -> [[Int]] {
            let batches = CacheBatches(reader: reader, options: .init(batchSize: 3, shuffle: true, seed: 5, epoch: 1, blockSequences: 4, bufferBlocks: 2, skipBatches: skip))
            var out: [[Int]] = []
            while let b = try batches.nextBatch() { out.append(b.map(\.index)) }
            return out
        }
        let all = try ids(skip: 0)
        for skip in [1, 2, 3, 5, 14, 15, 20] { XCTAssertEqual(try ids(skip: skip), Array(all.dropFirst(skip)), "skip \(skip)") }
    }

    /// A list file: defaults under `train:`, students over them; names checked.
    func testStudentListMergesOverDefaults() throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let list = root.appendingPathComponent("students.yaml")
        try """
        train:
          epochs: 2
          student: {layers: 2, dropout: 0.2}
          objectives: {kd: 1, ce: 1}
        students:
          - name: kd-upper
            student: {init: upper}
          - objectives: {attention_kl: 1}
            learning_rate: 0.001
        """.write(to: list, atomically: true, encoding: .utf8)
        let students = try StudentList.load(list: list, base: nil)
        XCTAssertEqual(students.map(\.name), ["kd-upper", "student-2"])
        XCTAssertEqual(students[0].spec.student.layers, 2)
        XCTAssertEqual(students[0].spec.student.dropout, 0.2)
        XCTAssertEqual(students[0].spec.student.initialization, .teacher(.upper))
        XCTAssertEqual(students[0].spec.objectives, [.kd: 1, .ce: 1])
        XCTAssertEqual(students[1].spec.objectives, [.attentionKL: 1], "objectives replace, they do not merge")
        XCTAssertEqual(students[1].spec.learningRate, 1e-3)
        XCTAssertEqual(students[1].spec.epochs, 2)
        try "students:\n  - name: a\n    epochz: 3\n".write(to: list, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try StudentList.load(list: list, base: nil)) { XCTAssertTrue("\($0)".contains("epochz"), "\($0)") }
        try "students:\n  - name: a\n  - name: a\n".write(to: list, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try StudentList.load(list: list, base: nil)) { XCTAssertTrue("\($0)".contains("two students"), "\($0)") }
        for (name, why) in [("../x", "starts with '.'"), ("a/b", "'/'"), ("/abs", "'/'"), ("\"a\\nb\"", "U+000A"), ("ünï", "U+00FC")] {
            try "students:\n  - name: \(name)\n".write(to: list, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try StudentList.load(list: list, base: nil)) { XCTAssertTrue("\($0)".contains(why) && "\($0)".contains("run folder"), "\($0)") }
        }
    }

    /// The shipped example list loads.
    func testShippedStudentListLoads() throws {
        let students = try StudentList.load(list: packageRoot.appendingPathComponent("pipelines/students-example.yaml"), base: nil)
        XCTAssertEqual(students.map(\.name), ["kd-lower", "kd-upper", "hidden-lower", "attention-lower"])
        XCTAssertEqual(students[2].spec.objectives, [.kd: 0.5, .ce: 0.5, .hiddenMSE: 1])
    }
}
