import Datasets
import Distillation
import Foundation
import Kernels
import Logging
import TeacherCache

/// What the cache is for (`make bench-many`). Eight small students, one epoch each — four
/// objective sets (KD; + hidden MSE; + attention KL; + relations) × lower/upper initialisation:
/// (a) together in one pass over the cache, (b) one after another from the cache, (c) one after
/// another with the teacher run online for each (how public toolkits distil). Same data, same
/// students, same run; the cache is built once and its build time is reported on its own.
public enum ManyStudentsBenchmark {
    public struct Settings: Sendable {
        public var teacher: URL, data: URL, workDirectory: URL
        public var maxLength = 64, batch = 32, layers = 2
        /// The teacher's (cache and online) and the students' matrix products.
        public var precision: Precision = .fp32
        /// Which runs: any of "a", "b", "c".
        public var modes = "abc"
        public init(teacher: URL, data: URL, workDirectory: URL) { self.teacher = teacher; self.data = data; self.workDirectory = workDirectory }
    }

    /// Runs the benchmark; each line of the report goes to `report` as it is measured.
    public static func run(_ settings: Settings, report: (String) -> Void) throws {
        let folder = settings.workDirectory
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let headed = try BenchTeacher.withHead(settings.teacher, in: folder)
        let depth = try BenchTeacher.depth(settings.teacher)
        // Relation heads as many as the teacher's attention heads (12 for MiniLM, MiniLMv2's own choice), so they divide any width.
        let heads = try BenchTeacher.config(settings.teacher).numAttentionHeads
        var students: [NamedStudent] = []
        let objectiveSets: [(String, [ObjectiveKind: Float])] = [
            ("kd", [.kd: 1]), ("kd-hidden", [.kd: 1, .hiddenMSE: 1]), ("kd-attention", [.kd: 1, .attentionKL: 1]), ("kd-relations", [.kd: 1, .relations: 1]),
        ]
        for (name, objectives) in objectiveSets {
            for initialization in ["lower", "upper"] {
                var spec = TrainSpec()
                spec.objectives = objectives
                spec.student.layers = settings.layers
                spec.student.initialization = try .init(parsing: initialization)
                spec.epochs = 1; spec.batchSize = settings.batch; spec.checkpointEvery = 0; spec.logEvery = 1 << 20
                spec.hiddenMapping = .uniform; spec.attentionMapping = .last; spec.relationMapping = .last; spec.relationHeads = heads
                if settings.precision != .fp32 { spec.precision = settings.precision }
                students.append(NamedStudent(name: "\(name)-\(initialization)", spec: spec))
            }
        }
        // What the students read: hidden states 0 and L plus the uniform mapping's, attention and Q/K/V of layer L, logits.
        let cache = folder.appendingPathComponent("cache-\(settings.maxLength)-\(settings.precision.rawValue).h5")
        var cacheSpec = CacheSpec()
        cacheSpec.maxLength = settings.maxLength
        cacheSpec.hiddenLayers = Array(Set([0, depth] + (1...settings.layers).map { $0 * depth / settings.layers })).sorted()
        cacheSpec.attentionLayers = [depth]; cacheSpec.relationLayers = [depth]; cacheSpec.logits = [.full]
        if settings.precision != .fp32 { cacheSpec.precision = settings.precision }
        var request = CacheRequest(teacher: headed, data: [settings.data], readOptions: DatasetReadOptions(), spec: cacheSpec, output: cache)
        request.overwrite = true
        let build = try CacheBuilder.build(request, logger: logger)
        let sequences = try CacheReader(url: cache).sequenceCount
        report(String(format: "precision %@; cache: %d sequences (≤ %d tokens), hidden %@ + attention %d + Q/K/V %d + logits, built once in %.1f s",
                      settings.precision.rawValue, sequences, settings.maxLength, "\(cacheSpec.hiddenLayers)", depth, depth, build.wallSeconds))

        func trainers(online: Bool) throws -> [StudentTrainer] {
            try students.map { try StudentTrainer(spec: $0.spec, cache: cache, teacherDirectory: headed, online: online, logger: logger, name: $0.name) }
        }
        func timed(_ groups: [[StudentTrainer]], schedule: StudentGroup.Schedule) throws -> (seconds: Double, summaries: [TrainingSummary], passes: [StudentGroup.PassReport]) {
            var summaries: [TrainingSummary] = [], passes: [StudentGroup.PassReport] = []
            let seconds = try Measure.seconds {
                for members in groups {
                    let group = StudentGroup(members: members.map { .init(trainer: $0, run: nil, dev: nil) }, threads: Threads.available, logger: logger)
                    for outcome in try group.run(schedule: schedule) {
                        if let error = outcome.error { throw error }
                        summaries.append(outcome.summary!)
                    }
                    passes += group.passes
                }
            }
            return (seconds, summaries, passes)
        }
        var results: [Character: Double] = [:]
        if settings.modes.contains("a") {
            let a = try timed([try trainers(online: false)], schedule: .auto)
            results["a"] = a.seconds
            let pass = a.passes[0]
            var line = String(format: "(a) together, one pass: %.1f s; %d batches read once, %.1f s waiting for the reader, schedule %@",
                              a.seconds, pass.batches, pass.waitSeconds, pass.schedule.rawValue)
            if let s = pass.sequentialSeconds, let c = pass.concurrentSeconds {
                line += String(format: " (median batch for all students %.3f s one after another on %d threads, %.3f s side by side)", s, Threads.available, c)
            }
            report(line)
        }
        if settings.modes.contains("b") {
            let b = try timed(try trainers(online: false).map { [$0] }, schedule: .sequential)
            results["b"] = b.seconds
            report(String(format: "(b) one after another from the cache: %.1f s; %.1f s waiting for the reader", b.seconds, b.passes.reduce(0) { $0 + $1.waitSeconds }))
        }
        if settings.modes.contains("c") {
            let c = try timed(try trainers(online: true).map { [$0] }, schedule: .sequential)
            results["c"] = c.seconds
            let teacherTime = c.summaries.reduce(0) { $0 + $1.teacherSeconds }
            report(String(format: "(c) one after another, teacher online: %.1f s, of which %.1f s (%.0f%%) in the teacher's forward passes",
                          c.seconds, teacherTime, 100 * teacherTime / c.seconds))
        }
        if let c = results["c"] {
            for mode: Character in ["a", "b"] {
                guard let x = results[mode] else { continue }
                report(String(format: "(%@)/(c) = %.3f (%.3f counting the one-off cache build)", String(mode), x / c, (x + build.wallSeconds) / c))
            }
        }
    }
}
