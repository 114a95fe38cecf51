import Bert
import Foundation
import Kernels
import Logging
import Objectives
import TeacherCache
import Training

/// How TED stage one trains the teacher filters (the flags of `distillery ted-filters`).
public struct TeacherFilterSpec: Sendable, Equatable {
    /// Teacher hidden layers to filter; nil = every cached hidden layer ≥ 1.
    public var layers: [Int]?
    public var kind = TedFilterKind.linear
    /// Filter width F; nil = the teacher's hidden size.
    public var width: Int?
    public var epochs = 3
    /// Stop after this many updates (0 = run all epochs).
    public var maxSteps = 0
    public var batchSize = 32
    public var learningRate: Float = 1e-3
    /// Fraction of all updates spent warming up linearly from 0; then linear decay to 0.
    public var warmupRatio: Float = 0.1
    public var weightDecay: Float = 0.01
    /// Global gradient-norm clipping (0 = off).
    public var clipNorm: Float = 1
    public var seed: UInt64 = 0

    public init() {}

    public func validate() throws {
        func fail(_ why: String) -> DistillationError { .invalidSpec(why) }
        if let layers, layers.isEmpty { throw fail("--layers lists no layer") }
        if let width, width < 1 { throw fail("the filter width must be at least 1") }
        if epochs < 1 && maxSteps < 1 { throw fail("set epochs ≥ 1 or max steps ≥ 1") }
        if batchSize < 1 { throw fail("batch size must be at least 1") }
        if !(learningRate > 0) { throw fail("learning rate must be positive") }
        if !(0..<1).contains(warmupRatio) { throw fail("warmup ratio must be in [0, 1)") }
        if weightDecay < 0 || clipNorm < 0 { throw fail("weight decay and clip norm must be ≥ 0") }
    }
}

/// One update of stage one, as the progress callback sees it.
public struct TeacherFilterStep: Sendable {
    public var step: Int, totalSteps: Int, epoch: Int
    public var learningRate: Float
    /// Mean over the filters of their heads' cross-entropy, and each filter's (by teacher layer).
    public var loss: Double
    public var losses: [Int: Double]
    public var sequencesPerSecond: Double
}

public struct TeacherFilterSummary: Sendable {
    public var steps: Int
    public var lossHistory: [Double]
    /// Teacher layer → accuracy of its filter's head on the dev cache; empty without one.
    public var devAccuracy: [Int: Double]
    public var devExamples: Int
    /// Share of the dev set's most frequent class (the accuracy of always guessing it); nil without dev.
    public var majorityRate: Double?
}

/// TED stage one (Liang et al. 2023): on the frozen teacher — its hidden states read from a labelled cache, the
/// teacher itself never loaded — trains one filter per chosen layer, each with its own task head (pooler +
/// classifier on the filter's output at [CLS]), to minimise the mean over filters of the heads' cross-entropy
/// (docs/objectives.md §11). The loop reads top to bottom: learning rate, batch, losses and gradients, clip,
/// update, report. Only the [CLS] row reaches a head, so only [CLS] rows are filtered here.
public final class TeacherFilterTraining {
    public let spec: TeacherFilterSpec
    public let cache: CacheReader
    public let layers: [Int]
    public let classes: Int, width: Int, inputWidth: Int
    public let labelNames: [String]
    let filters: [TedFilter], heads: [TedTaskHead]
    /// Per layer, the batch's [CLS] hidden states (maxBatch, C).
    let inputs: [FloatBuffer]
    let segments: [ParameterSegment]
    let optimizer: AdamW
    let logger: Logger

    public init(spec: TeacherFilterSpec, cache url: URL, logger: Logger) throws {
        try spec.validate()
        self.spec = spec
        self.logger = logger
        cache = try CacheReader(url: url)
        let teacher = cache.provenance.teacher
        guard !cache.isMaskedLM else {
            throw DistillationError.incompatible("\(url.path) is a masked-LM cache; TED filters learn a classification task from labelled data")
        }
        guard let names = cache.labelNames else {
            throw DistillationError.missingTargets("TED stage one trains each filter's head on gold labels, and \(url.path) has none; rebuild the cache with `distillery cache … --label-field NAME`")
        }
        guard names.count >= 2 else {
            throw DistillationError.invalidSpec("\(url.path) has \(names.count) label (a regression target?); TED filter heads are classifiers")
        }
        labelNames = names
        classes = names.count
        inputWidth = teacher.hiddenSize
        width = spec.width ?? teacher.hiddenSize
        let cached = cache.spec.hiddenLayers
        if let chosen = spec.layers {
            if let bad = chosen.first(where: { !(1...teacher.layers).contains($0) }) {
                throw DistillationError.invalidSpec("--layers \(bad): teacher hidden layers are 1…\(teacher.layers)")
            }
            layers = Array(Set(chosen)).sorted()
        } else {
            layers = cached.filter { $0 >= 1 }.sorted()
        }
        if layers.isEmpty {
            throw DistillationError.missingTargets("TED filters need teacher hidden states of layers 1…\(teacher.layers), but \(url.path) holds hidden states \(TrainingPlan.list(cached)); rebuild the cache with `distillery cache … --hidden \(TrainingPlan.list(Array(1...teacher.layers)))`")
        }
        let absent = layers.filter { !cached.contains($0) }
        if !absent.isEmpty {
            throw DistillationError.missingTargets("TED filters on teacher layers \(TrainingPlan.list(layers)) need their hidden states, but \(url.path) holds hidden states \(TrainingPlan.list(cached)); rebuild the cache with `distillery cache … --hidden \(TrainingPlan.list(Array(Set(cached + absent)).sorted()))`")
        }
        // Filters and heads, initialised as BERT's linear layers: N(0, initializer_range²), biases 0.
        let std = (try? JSONDecoder().decode(BertConfig.self, from: Data(teacher.config.utf8)))?.initializerRange ?? 0.02
        let maxBatch = spec.batchSize
        filters = layers.map { _ in TedFilter(kind: spec.kind, inputWidth: teacher.hiddenSize, width: spec.width ?? teacher.hiddenSize, maxRows: maxBatch) }
        heads = layers.map { _ in TedTaskHead(width: spec.width ?? teacher.hiddenSize, classes: names.count, maxRows: maxBatch) }
        for (i, layer) in layers.enumerated() {
            filters[i].initialize(seed: spec.seed, stream: UInt64(layer) << 8, std: std)
            heads[i].initialize(seed: spec.seed, stream: UInt64(layer) << 8 | 0x80, std: std)
        }
        inputs = layers.map { _ in FloatBuffer(count: maxBatch * teacher.hiddenSize) }
        segments = zip(layers, zip(filters, heads)).flatMap { layer, pair in
            tedSegments(TedFilterFile.name(layer: layer, "filter"), pair.0.tensors, pair.0.parameters, pair.0.gradients)
                + tedSegments(TedFilterFile.name(layer: layer, "head"), pair.1.tensors, pair.1.parameters, pair.1.gradients)
        }
        optimizer = AdamW(segments: segments, settings: AdamW.Settings(weightDecay: spec.weightDecay))
    }

    public var stepsPerEpoch: Int { (cache.sequenceCount + spec.batchSize - 1) / spec.batchSize }
    public var totalSteps: Int { spec.maxSteps > 0 ? spec.maxSteps : spec.epochs * stepsPerEpoch }

    /// The resolved configuration, printed at start and saved in the summary.
    public var resolvedConfiguration: [String: Any] {
        [
            "cache": cache.url.path, "teacher": cache.provenance.teacher.path, "teacher_sha256": cache.provenance.teacher.weightsSHA256,
            "layers": layers, "kind": spec.kind.rawValue, "width": width, "input_width": inputWidth, "classes": classes,
            "label_names": labelNames, "epochs": spec.epochs, "max_steps": spec.maxSteps, "steps": totalSteps,
            "batch_size": spec.batchSize, "learning_rate": Double(spec.learningRate), "warmup_ratio": Double(spec.warmupRatio),
            "weight_decay": Double(spec.weightDecay), "clip_norm": Double(spec.clipNorm), "seed": spec.seed,
            "parameters": segments.reduce(0) { $0 + $1.count },
        ]
    }

    /// Trains every filter and head; evaluates each head on `dev` (a labelled cache of the same teacher) at the end.
    public func train(dev devURL: URL?, progress: (TeacherFilterStep) -> Void = { _ in }) throws -> TeacherFilterSummary {
        let total = totalSteps
        let schedule = LearningRateSchedule(peak: spec.learningRate, warmupSteps: Int(Float(total) * spec.warmupRatio), totalSteps: total, decay: .linear)
        let dev = try devURL.map { try CacheReader(url: $0) }
        if let dev { try checkDev(dev) }
        var history: [Double] = [], step = 0, epoch = 0
        var windowStart = Date(), windowSequences = 0
        while step < total {
            let batches = CacheBatches(reader: cache, options: .init(batchSize: spec.batchSize, shuffle: true, seed: spec.seed, epoch: epoch,
                                                                     selection: CacheSelection(hiddenLayers: layers)))
            while step < total, let sequences = try batches.nextBatch() {
                // Learning rate.
                let rate = schedule.rate(at: step)
                // Batch: gold labels and each layer's [CLS] rows.
                let labels = try goldLabels(sequences, cache: cache)
                // Losses and gradients: mean over the filters of each head's cross-entropy.
                var losses: [Int: Double] = [:]
                for (i, layer) in layers.enumerated() {
                    gatherCLS(sequences, layer: layer, into: inputs[i])
                    losses[layer] = tedTaskLoss(gradient: nil, weight: 1 / Float(layers.count), learn: true, filter: filters[i], head: heads[i],
                                                input: inputs[i].pointer, labels: labels, rows: sequences.count)
                }
                let loss = losses.values.reduce(0, +) / Double(layers.count)
                guard loss.isFinite else {
                    throw DistillationError.nonFinite("TED filters, step \(step + 1): loss is \(loss) (per layer \(losses)); lower the learning rate")
                }
                // Clip, update (the update leaves the gradients at zero for the next step).
                optimizer.update(learningRate: rate, gradientScale: gradientClipping(segments, maxNorm: Double(spec.clipNorm)).scale)
                history.append(loss)
                step += 1
                windowSequences += sequences.count
                // Report.
                let elapsed = max(1e-9, Date().timeIntervalSince(windowStart))
                progress(TeacherFilterStep(step: step, totalSteps: total, epoch: epoch + 1, learningRate: rate, loss: loss, losses: losses,
                                           sequencesPerSecond: Double(windowSequences) / elapsed))
                if elapsed > 5 { windowStart = Date(); windowSequences = 0 }
            }
            epoch += 1
            if step == 0 { throw DistillationError.invalidSpec("\(cache.url.path) holds no sequences") }
        }
        var summary = TeacherFilterSummary(steps: step, lossHistory: history, devAccuracy: [:], devExamples: 0, majorityRate: nil)
        if let dev {
            (summary.devAccuracy, summary.devExamples, summary.majorityRate) = try evaluate(dev)
            logger.info("TED filters on dev: \(summary.devAccuracy.sorted { $0.key < $1.key }.map { "layer \($0.key) accuracy \($0.value)" }.joined(separator: ", "))")
        }
        return summary
    }

    /// Each filter's head accuracy on a labelled cache, the number of labelled examples, and the majority-class rate.
    public func evaluate(_ dev: CacheReader) throws -> (accuracy: [Int: Double], examples: Int, majority: Double) {
        var correct = [Int](repeating: 0, count: layers.count), counts = [Int](repeating: 0, count: classes), examples = 0
        let batches = CacheBatches(reader: dev, options: .init(batchSize: spec.batchSize, selection: CacheSelection(hiddenLayers: layers)))
        while let sequences = try batches.nextBatch() {
            let labels = try goldLabels(sequences, cache: dev)
            for y in labels where y >= 0 { counts[Int(y)] += 1; examples += 1 }
            for (i, layer) in layers.enumerated() {
                gatherCLS(sequences, layer: layer, into: inputs[i])
                filters[i].forward(inputs[i].pointer, rows: sequences.count)
                heads[i].forward(filters[i].output.pointer, rows: sequences.count)
                for (b, y) in labels.enumerated() where y >= 0 {
                    let z = heads[i].logits.pointer + b * classes
                    var best = 0
                    for j in 1..<classes where z[j] > z[best] { best = j }
                    if best == Int(y) { correct[i] += 1 }
                }
            }
        }
        let n = Double(max(1, examples))
        return (Dictionary(uniqueKeysWithValues: zip(layers, correct.map { Double($0) / n })), examples, Double(counts.max() ?? 0) / n)
    }

    private func checkDev(_ dev: CacheReader) throws {
        guard dev.provenance.teacher.weightsSHA256 == cache.provenance.teacher.weightsSHA256 else {
            throw DistillationError.incompatible("dev cache \(dev.url.path) was built by another teacher (\(dev.provenance.teacher.path)) than the training cache (\(cache.provenance.teacher.path))")
        }
        guard dev.labelNames == labelNames else {
            throw DistillationError.incompatible("dev cache \(dev.url.path) has labels \(dev.labelNames ?? []), the training cache \(labelNames)")
        }
        let absent = layers.filter { !dev.spec.hiddenLayers.contains($0) }
        if !absent.isEmpty {
            throw DistillationError.missingTargets("dev cache \(dev.url.path) holds hidden states \(TrainingPlan.list(dev.spec.hiddenLayers)), not \(TrainingPlan.list(absent)); rebuild it with `distillery cache … --hidden \(TrainingPlan.list(Array(Set(dev.spec.hiddenLayers + absent)).sorted()))`")
        }
    }

    /// Class index per sequence (−100 where the example had no label).
    private func goldLabels(_ sequences: [CachedSequence], cache: CacheReader) throws -> [Int32] {
        try sequences.map { s in
            guard let label = s.label else { return -100 }
            guard label >= 0, Int(label) < classes, label == label.rounded() else {
                throw DistillationError.invalidSpec("\(cache.url.path): sequence \(s.index) has label \(label), not a class in 0..<\(classes)")
            }
            return Int32(label)
        }
    }

    /// The [CLS] row (token 0) of `layer` of every sequence, packed (batch, C).
    private func gatherCLS(_ sequences: [CachedSequence], layer: Int, into buffer: FloatBuffer) {
        for (b, s) in sequences.enumerated() {
            guard let hidden = s.hidden[layer] else { preconditionFailure("the reader did not decode hidden layer \(layer) for sequence \(s.index)") }
            hidden.withUnsafeBufferPointer { (buffer.pointer + b * inputWidth).update(from: $0.baseAddress!, count: inputWidth) }
        }
    }

    /// The trained filters and heads, as the `ted` objective reads them.
    public var file: TedFilterFile {
        TedFilterFile(kind: spec.kind, layers: layers, inputWidth: inputWidth, width: width, classes: classes, labelNames: labelNames,
                      teacherSHA256: cache.provenance.teacher.weightsSHA256,
                      filters: Dictionary(uniqueKeysWithValues: zip(layers, filters.map { $0.parameters.toArray() })),
                      heads: Dictionary(uniqueKeysWithValues: zip(layers, heads.map { $0.parameters.toArray() })))
    }

    /// Writes the filters (safetensors) and, next to them with the extension .json, the resolved configuration
    /// with the training and dev figures.
    public func save(to url: URL, summary: TeacherFilterSummary) throws {
        try file.write(to: url)
        var json = resolvedConfiguration
        json["filters"] = url.path
        json["steps"] = summary.steps
        json["final_loss"] = summary.lossHistory.last ?? 0
        json["first_loss"] = summary.lossHistory.first ?? 0
        if !summary.devAccuracy.isEmpty {
            json["dev"] = ["examples": summary.devExamples, "majority_rate": summary.majorityRate ?? 0,
                           "accuracy": Dictionary(uniqueKeysWithValues: summary.devAccuracy.map { (String($0.key), $0.value) })]
        }
        let path = Self.summaryURL(for: url)
        do {
            try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys]).write(to: path, options: .atomic)
        } catch {
            throw DistillationError.io("cannot write \(path.path): \(error.localizedDescription)")
        }
    }

    public static func summaryURL(for url: URL) -> URL { url.deletingPathExtension().appendingPathExtension("json") }
}

/// One optimiser segment per tensor of a TED filter or head, named `prefix.tensor`; matrices decay, biases do not.
func tedSegments(_ prefix: String, _ tensors: [TedFilter.Tensor], _ values: FloatBuffer, _ gradients: FloatBuffer) -> [ParameterSegment] {
    tensors.map { t in
        ParameterSegment(name: "\(prefix).\(t.name)", values: values.pointer + t.offset, gradients: gradients.pointer + t.offset,
                         count: t.count, decays: t.shape.count >= 2)
    }
}
