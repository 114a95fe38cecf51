import Datasets
import Distillation
import Foundation
import Kernels
import Logging
import TeacherCache

/// Stage-two training throughput from a cache (`make bench-train`): a student of `layers` layers
/// of the teacher's width trained with KD + hidden MSE + attention KL on the last layer, the share
/// of step time spent waiting for cache reads, and peak memory. The cache is built once into the
/// work folder and reused.
public enum TrainStepBenchmark {
    public struct Settings: Sendable {
        public var teacher: URL, data: URL, workDirectory: URL
        public var batch = 32, seq = 128, layers = 3, steps = 5, runs = 3, warmup = 2
        public var precision: Precision = .fp32
        public init(teacher: URL, data: URL, workDirectory: URL) { self.teacher = teacher; self.data = data; self.workDirectory = workDirectory }
    }

    public struct Result: Sendable {
        public var settings: Settings
        public var hiddenSize: Int, threads: Int
        public var rates: [Double], waitShares: [Double]
        public var peakResidentMiB: Double
        public var line: String {
            String(format: "distillery train step%@: student %d x %d, batch %d x seq %d, %d threads, OpenBLAS %@: cache waiting %.1f%% of step time, peak RSS %.0f MiB, median %.0f tokens/s over %d runs",
                   settings.precision == .bf16 ? " (bf16)" : "", settings.layers, hiddenSize, settings.batch, settings.seq, threads, BLASCore.current, Measure.median(waitShares) * 100,
                   peakResidentMiB, Measure.median(rates), rates.count)
        }
    }

    public static func measure(_ settings: Settings) throws -> Result {
        let folder = settings.workDirectory, batch = settings.batch
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let logger = Logger(label: "bench")
        let headed = try BenchTeacher.withHead(settings.teacher, in: folder)
        let depth = try BenchTeacher.depth(settings.teacher)
        let cache = folder.appendingPathComponent("cache-\(settings.seq).h5")
        if !FileManager.default.fileExists(atPath: cache.path) {
            var spec = CacheSpec()
            spec.maxLength = settings.seq; spec.hiddenLayers = [depth]; spec.attentionLayers = [depth]; spec.logits = [.full]
            _ = try CacheBuilder.build(CacheRequest(teacher: headed, data: [settings.data], readOptions: DatasetReadOptions(),
                                                    spec: spec, output: cache), logger: logger)
        }
        var spec = TrainSpec()
        spec.objectives = [.kd: 1, .hiddenMSE: 1, .attentionKL: 1]
        spec.hiddenMapping = .last; spec.attentionMapping = .last
        spec.student.layers = settings.layers
        spec.batchSize = batch
        spec.maxSteps = 1 << 30
        if settings.precision != .fp32 { spec.precision = settings.precision }
        let trainer = try StudentTrainer(spec: spec, cache: cache, teacherDirectory: headed, logger: logger)
        let reader = try CacheReader(url: cache)
        var batches = CacheBatches(reader: reader, options: .init(batchSize: batch, shuffle: true, selection: trainer.plan.selection))
        var epoch = 0, stepIndex = 0
        func nextBatch() throws -> [CachedSequence] {
            while true {
                if let b = try batches.nextBatch(), b.count == batch { return b }
                epoch += 1
                batches = CacheBatches(reader: reader, options: .init(batchSize: batch, shuffle: true, epoch: epoch, selection: trainer.plan.selection))
            }
        }
        for _ in 0..<settings.warmup { _ = try trainer.step(try nextBatch(), index: stepIndex, learningRate: 1e-4); stepIndex += 1 }
        var rates: [Double] = [], waits: [Double] = []
        for _ in 0..<settings.runs {
            let waitBefore = batches.waitSeconds
            var tokens = 0, waitAcrossEpochs = 0.0
            let seconds = try Measure.seconds {
                for _ in 0..<settings.steps {
                    let current = batches
                    let before = current.waitSeconds
                    let b = try nextBatch()
                    waitAcrossEpochs += current === batches ? 0 : current.waitSeconds - before
                    tokens += b.reduce(0) { $0 + $1.length }
                    _ = try trainer.step(b, index: stepIndex, learningRate: 1e-4)
                    stepIndex += 1
                }
            }
            rates.append(Double(tokens) / seconds)
            waits.append((max(0, batches.waitSeconds - waitBefore) + waitAcrossEpochs) / seconds)
        }
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Result(settings: settings, hiddenSize: trainer.student.config.hiddenSize, threads: Threads.count,
                      rates: rates, waitShares: waits, peakResidentMiB: Double(usage.ru_maxrss) / 1024)
    }
}
