import Bert
import Distillation
import Foundation
import Hashing
import TeacherCache
import TestSupport
import XCTest
@testable import Pipelines

/// A study as jobs: how it is cut (shards, students tasks), that running the tasks one by one in
/// any order (as Slurm may) gives what one local run gives, that a stage refuses to start before
/// the one it needs, that changed inputs are redone rather than reused, and the Slurm scripts.
extension PipelineTests {
    var twoObjectives: String {
        """
        grid:
          objectives:
            kd: {kd: 0.5, ce: 0.5}
            attention: {kd: 0.5, attention_kl: 1}
          init: [lower, upper]
        """
    }

    func testJobsCutTheStudyIntoShardsAndStudentTasks() throws {
        let url = try study(grid: twoObjectives, students: """
        students:
          - {name: big-batch, objectives: {ce: 1}, batch_size: 16}
        """, extra: "resources: {shards: 3, students_per_task: 3}")
        let jobs = StudyJobs(try Pipeline.load(url, results: folder))
        XCTAssertEqual(jobs.jobs.map(\.stage), [.teacher, .cache, .merge, .students, .report])
        XCTAssertEqual(jobs.jobs.map(\.tasks), [1, 3, 1, 3, 1])
        XCTAssertEqual(jobs.jobs.map(\.after), [nil, .teacher, .cache, .merge, .students])
        // The student with another batch size reads the cache in another pass: a task of its own.
        XCTAssertEqual(jobs.studentTasks, [["big-batch"], ["kd-lower", "kd-upper", "attention-lower"], ["attention-upper"]])
        XCTAssertThrowsError(try jobs.check(.cache, task: 4)) { XCTAssertTrue("\($0)".contains("tasks 1…3"), "\($0)") }

        let plain = StudyJobs(try Pipeline.load(try study(grid: twoObjectives), results: folder))
        XCTAssertEqual(plain.jobs.map(\.tasks), [1, 1, 1, 1, 1], "one shard and one shared pass by default")
    }

    /// Tasks run one at a time in a scrambled order (shard 2 before 1, the second students task
    /// first) leave the same table and byte-identical weights as one local run of the study.
    func testTasksRunOneByOneEqualOneLocalRun() throws {
        let url = try study(grid: twoObjectives, extra: "resources: {shards: 2, students_per_task: 2}")
        let pipeline = try Pipeline.load(url, results: folder)
        let local = try StudyRunner(pipeline: pipeline, results: folder.appendingPathComponent("local"), logger: logger).run()

        let tasks = StudyRunner(pipeline: pipeline, results: folder.appendingPathComponent("tasks"), logger: logger)
        XCTAssertThrowsError(try tasks.run(.cache, task: 1)) { XCTAssertTrue("\($0)".contains("not fine-tuned"), "\($0)") }
        try tasks.run(.teacher)
        XCTAssertThrowsError(try tasks.run(.merge)) { XCTAssertTrue("\($0)".contains("train-shard-1-of-2.h5"), "\($0)") }
        try tasks.run(.cache, task: 2)
        XCTAssertThrowsError(try tasks.run(.merge)) { XCTAssertTrue("\($0)".contains("train-shard-1-of-2.h5"), "\($0)") }
        try tasks.run(.cache, task: 1)
        try tasks.run(.merge)
        try tasks.run(.students, task: 2)
        try tasks.run(.students, task: 1)
        let reported = try XCTUnwrap(try tasks.run(.report))

        XCTAssertEqual(reported.students.map(\.dev), local.students.map(\.dev))
        XCTAssertEqual(reported.students.map(\.test), local.students.map(\.test))
        XCTAssertEqual(reported.teacher.dev, local.teacher.dev)
        for student in pipeline.students.map(\.named.name) {
            let file = "students/\(student)/final/model.safetensors"
            XCTAssertEqual(try Data(contentsOf: tasks.folder.appendingPathComponent(file)),
                           try Data(contentsOf: StudyRunner(pipeline: pipeline, results: folder.appendingPathComponent("local"), logger: logger).folder.appendingPathComponent(file)), file)
        }
        let merged = try CacheReader(url: tasks.folder.appendingPathComponent("cache/train.h5"))
        XCTAssertEqual(merged.shards.count, 2, "train.h5 is the merge of two shards")
        XCTAssertEqual(reported.stages.map(\.name), ["teacher", "cache (2 tasks)", "merge", "students (2 tasks)", "report"])
    }

    /// A changed teacher fine-tune is redone, and the caches it invalidates are rebuilt (the old
    /// ones were made by another teacher), instead of both being reused because they exist.
    func testChangedTeacherSettingsAreRedoneNotReused() throws {
        let url = try study(grid: """
        grid:
          objectives:
            kd: {kd: 0.5, ce: 0.5}
          init: [lower]
        """)
        let results = folder.appendingPathComponent("results")
        let first = StudyRunner(pipeline: try Pipeline.load(url, results: results), results: results, logger: logger)
        _ = try first.run()
        let teacherWeights = first.folder.appendingPathComponent("teacher/best/model.safetensors")
        let before = try Data(contentsOf: teacherWeights)

        var text = try String(contentsOf: url, encoding: .utf8)
        text = text.replacingOccurrences(of: "epochs: 2, learning_rate: 0.001, batch_size: 8}", with: "epochs: 1, learning_rate: 0.001, batch_size: 8}")
        try text.write(to: url, atomically: true, encoding: .utf8)
        let second = StudyRunner(pipeline: try Pipeline.load(url, results: results), results: results, logger: logger)
        _ = try second.run()
        let after = try Data(contentsOf: teacherWeights)
        XCTAssertNotEqual(after, before, "one epoch instead of two: the teacher was fine-tuned again")
        let cache = try CacheReader(url: second.folder.appendingPathComponent("cache/train.h5"))
        XCTAssertEqual(cache.provenance.teacher.weightsSHA256, ContentHash.data(after), "the cache was rebuilt by the new teacher")
    }

    /// The Slurm scripts: one per job, arrays where a job has several tasks, the pipeline's
    /// resources, each running one stage task; the examples in pipelines/slurm/check/ are current.
    func testSlurmScriptsMatchTheShippedExamples() throws {
        let pipeline = try Pipeline.load(packageRoot.appendingPathComponent("pipelines/slurm/check.yaml"), results: folder)
        let executor = try SlurmExecutor(pipeline: pipeline, options: .init(binary: "/path/to/distillery/.build/release/distillery",
                                                                        directory: "/path/to/distillery",
                                                                        pipelineFile: "pipelines/slurm/check.yaml", results: "results"))
        let scripts = executor.scripts()
        XCTAssertEqual(scripts.map { $0.file.lastPathComponent }, ["teacher.sbatch", "cache.sbatch", "merge.sbatch", "students.sbatch", "report.sbatch"])
        let cache = scripts[1].text
        for line in ["#SBATCH --array=1-2", "#SBATCH --cpus-per-task=1", "#SBATCH --mem=4096M", "#SBATCH --time=30",
                     "#SBATCH --output=/path/to/distillery/results/slurm-check/slurm/cache-%A_%a.log",
                     "--stage cache --task \"${SLURM_ARRAY_TASK_ID:-1}\""] {
            XCTAssertTrue(cache.contains(line), "\(line) missing from\n\(cache)")
        }
        XCTAssertFalse(scripts[2].text.contains("--array"), "the merge is one task")
        for script in scripts {
            let example = packageRoot.appendingPathComponent("pipelines/slurm/check").appendingPathComponent(script.file.lastPathComponent)
            if ProcessInfo.processInfo.environment["DISTILLERY_WRITE_EXAMPLES"] != nil {
                try script.text.write(to: example, atomically: true, encoding: .utf8)
            }
            XCTAssertEqual(try String(contentsOf: example, encoding: .utf8), script.text,
                           "\(example.path) is out of date: regenerate with DISTILLERY_WRITE_EXAMPLES=1 swift test --filter testSlurmScripts")
        }
    }
}

/// Students per task by default: as many as fit in the memory a students task may use.
final class StudentMemoryTests: XCTestCase {
    func testStudentsTasksFitTheJobsMemory() throws {
        let folder = try makeTemporaryDirectory("distillery-memory")
        defer { try? FileManager.default.removeItem(at: folder) }
        // all-MiniLM-L6-v2's shape; only its config is read.
        let teacher = folder.appendingPathComponent("teacher")
        try FileManager.default.createDirectory(at: teacher, withIntermediateDirectories: true)
        try """
        {"vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 1536,
         "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu"}
        """.write(to: teacher.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        func pipeline(_ resources: String) throws -> Pipeline {
            let url = folder.appendingPathComponent("study.yaml")
            try """
            name: memory
            teacher: {path: \(teacher.path)}
            data: {train: t.jsonl, label_field: label, max_length: 64}
            training: {batch_size: 32, student: {layers: 3}}
            grid:
              objectives: {kd: {kd: 1}, hidden: {kd: 1, hidden_mse: 1}, attention: {kd: 1, attention_kl: 1}}
              init: [lower, upper, uniform]
              seeds: [0, 1, 2, 3, 4]
            \(resources)
            """.write(to: url, atomically: true, encoding: .utf8)
            return try Pipeline.load(url, results: folder)
        }
        let study = try pipeline("resources: {memory_gb: 8}")
        let config = try BertConfig.load(from: teacher.appendingPathComponent("config.json"))
        let each = StudentMemory.bytes(study.students[0].named.spec, teacher: config, maxLength: 64)
        // 17.4M parameters × 16 bytes + activations + the attention buffers: 0.65 GiB, just above the
        // 0.64 GiB each measured for 15 together.
        XCTAssertEqual(Double(each) / Double(1 << 30), 0.65, accuracy: 0.02)
        // At 512 tokens the buffers that grow with the square of the length (2.8 GB) are half of it.
        let long = StudentMemory.bytes(study.students[0].named.spec, teacher: config, maxLength: 512)
        XCTAssertEqual(Double(long) / Double(1 << 30), 5.7, accuracy: 0.1)
        let jobs = StudyJobs(study)
        let perTask = Int((8 * 0.8 - 1) * Double(1 << 30)) / each
        XCTAssertEqual(jobs.studentTasks.map(\.count).max(), perTask)
        XCTAssertEqual(jobs.studentTasks.flatMap { $0 }.count, 45)
        XCTAssertEqual(jobs.studentTasks.count, (45 + perTask - 1) / perTask)
        // An explicit students_per_task wins.
        XCTAssertEqual(StudyJobs(try pipeline("resources: {memory_gb: 8, students_per_task: 20}")).studentTasks.map(\.count), [20, 20, 5])
    }
}
