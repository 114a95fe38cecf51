import Datasets
import Foundation
import Kernels
import Logging
import TeacherCache

/// What stage one costs beyond the teacher, what it stores, how fast it reads (`make bench-cache`):
/// (1) a whole cache run against the teacher's forward passes alone, alternated so that machine
/// noise hits both; (2) bytes per token per component for each codec; (3) sequential reads of what
/// a student of the last three cached hidden layers and the last attention layer needs.
public enum StageOneBenchmark {
    public struct Settings: Sendable {
        public var teacher: URL, data: URL, workDirectory: URL
        public var maxLength = 128, batchSize = 32, level = CacheSpec().compressionLevel, runs = 3
        /// Layers to cache; nil: hidden states at L/3, 2L/3 and L, attention of layer L.
        public var hiddenLayers: [Int]?, attentionLayers: [Int]?
        /// The teacher's matrix products (both the teacher-alone pass and the cache run).
        public var precision: Precision = .fp32
        public init(teacher: URL, data: URL, workDirectory: URL) { self.teacher = teacher; self.data = data; self.workDirectory = workDirectory }
    }

    /// Runs the benchmark; each line of the report goes to `report` as it is measured.
    public static func run(_ settings: Settings, report: (String) -> Void) throws {
        let folder = settings.workDirectory
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let layers = try BenchTeacher.depth(settings.teacher)
        var spec = CacheSpec()
        spec.maxLength = settings.maxLength; spec.batchSize = settings.batchSize; spec.compressionLevel = settings.level
        spec.hiddenLayers = settings.hiddenLayers ?? [layers / 3, 2 * layers / 3, layers]
        spec.attentionLayers = settings.attentionLayers ?? [layers]
        if settings.precision != .fp32 { spec.precision = settings.precision }
        func request(_ spec: CacheSpec, _ name: String) -> CacheRequest {
            var r = CacheRequest(teacher: settings.teacher, data: [settings.data], readOptions: DatasetReadOptions(),
                                 spec: spec, output: folder.appendingPathComponent(name))
            r.overwrite = true
            return r
        }
        let logger = Logger(label: "bench")

        // 1. Stage one against the teacher alone.
        // Both runs are timed from the start, loading included; the setup is also reported
        // apart, for the ratio against the forward passes alone.
        var teacherTimes: [Double] = [], setupTimes: [Double] = [], cacheTimes: [Double] = [], tokens = 0
        for _ in 0..<settings.runs {
            let pass = try CacheBuilder.teacherPass(request(spec, "unused.h5"))
            teacherTimes.append(pass.seconds); setupTimes.append(pass.setupSeconds); tokens = pass.tokens
            cacheTimes.append(try CacheBuilder.build(request(spec, "fp16.h5"), logger: logger).wallSeconds)
        }
        let t = Measure.median(teacherTimes), setup = Measure.median(setupTimes), c = Measure.median(cacheTimes)
        report(String(format: "stage one, %@ (%@ teacher), %d tokens (seq ≤ %d), hidden %@ + attention %@, fp16 + zstd %d: teacher alone %.2f s (loading %.2f s of it), whole cache run %.2f s: %.3f× (%.3f× the teacher's forward passes without loading; medians of %d)",
                      Measure.teacherName(settings.teacher), settings.precision.rawValue, tokens, settings.maxLength, "\(spec.hiddenLayers)", "\(spec.attentionLayers)",
                      settings.level, t, setup, c, c / t, c / (t - setup), settings.runs))

        // 2. Bytes per token per component for each codec.
        for codec in TensorCodec.allCases {
            var s = spec
            s.codecs.hidden = codec; s.codecs.attention = codec
            let name = "\(codec).h5"
            if codec != .fp16 { _ = try CacheBuilder.build(request(s, name), logger: logger) }
            let cached = try CacheReport.read(folder.appendingPathComponent(name))
            let parts = cached.components.filter { $0.name != "inputs" }.map { part in
                String(format: "%@ %.0f B/token (%.2f× vs raw fp32)", part.name, Double(part.storedBytes) / Double(cached.tokens),
                       Double(part.rawBytes) / Double(max(part.storedBytes, 1)))
            }
            report("codec \(codec): " + parts.joined(separator: ", ") + String(format: "; file %.0f B/token", Double(cached.fileBytes) / Double(cached.tokens)))
        }

        // 3. Sequential reads from the fp16 cache.
        let reader = try CacheReader(url: folder.appendingPathComponent("fp16.h5"))
        let selection = CacheSelection(hiddenLayers: Array(spec.hiddenLayers.suffix(3)), attentionLayers: [spec.attentionLayers.last!])
        var rates: [Double] = []
        for _ in 0..<settings.runs {
            var read = 0
            let seconds = Measure.seconds {
                for batch in CacheBatches(reader: reader, options: .init(batchSize: 32, selection: selection)) { read += batch.reduce(0) { $0 + $1.length } }
            }
            rates.append(Double(read) / seconds)
        }
        report(String(format: "sequential read (hidden %@ + attention %@, fp16): median %.0f tokens/s", "\(selection.hiddenLayers)", "\(selection.attentionLayers)", Measure.median(rates)))
    }
}
