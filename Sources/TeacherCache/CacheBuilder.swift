import Bert
import Datasets
import Dispatch
import Foundation
import Hashing
import Kernels
import Logging
import Tokenization

/// A request for stage one: which teacher, which data, what to store, where.
public struct CacheRequest: Sendable {
    public var teacher: URL
    public var data: [URL]
    public var readOptions: DatasetReadOptions
    public var spec: CacheSpec
    public var output: URL
    public var resume = false
    public var overwrite = false
    /// Process only this slice of the data (`--shard I/N`); `distillery cache merge` joins the shards.
    public var shard: ShardSelection?

    public init(teacher: URL, data: [URL], readOptions: DatasetReadOptions, spec: CacheSpec, output: URL) {
        self.teacher = teacher; self.data = data; self.readOptions = readOptions; self.spec = spec; self.output = output
    }
}

public struct CacheProgress: Sendable {
    public var sequencesDone: Int
    public var sequencesTotal: Int
    public var tokensDone: Int
    public var elapsedSeconds: Double
    public var tokensPerSecond: Double { elapsedSeconds > 0 ? Double(tokensDone) / elapsedSeconds : 0 }
}

public struct CacheSummary: Sendable {
    public var output: URL
    public var sequences: Int
    public var tokens: Int
    /// Sequences already in the file when a resumed run started.
    public var resumedFrom: Int
    public var rowsSkipped: Int
    public var wallSeconds: Double
    /// Time inside the teacher's forward pass alone (what a run without caching would also spend).
    public var teacherSeconds: Double
}

/// Stage one: runs the teacher once over the data and writes the cache. The teacher runs on the
/// calling thread (its products on `Threads.count` cores); each batch's outputs are encoded,
/// compressed and written between forward passes on the same cores, or, when the teacher leaves
/// a core free, on a writer thread one batch behind.
public enum CacheBuilder {
    public static func build(_ request: CacheRequest, logger: Logger,
                             progress: (CacheProgress) -> Void = { _ in }) throws -> CacheSummary {
        let start = DispatchTime.now().uptimeNanoseconds
        var spec = request.spec
        // Before any work: a precision this CPU cannot run.
        if let reason = (spec.precision ?? .fp32).unsupportedReason { throw CacheError.invalidSpec(reason) }
        // The provenance's SHA-256 of the weights reads the whole file again: on another core,
        // while this one parses the model and the data.
        let weightsURL = request.teacher.appendingPathComponent("model.safetensors")
        let weightsSHA256 = BackgroundResult { try ContentHash.file(at: weightsURL) }
        let model = try BertModel.load(directory: request.teacher)
        let tokenizer = try loadTeacherTokenizer(request.teacher, config: model.config)
        spec.maxLength = try maxLength(spec, model: model, teacher: request.teacher, logger: logger)
        let heads = model.heads
        try spec.validate(layers: model.config.numHiddenLayers, hasClassifier: heads.classifierLabels > 0, hasMaskedLM: heads.maskedLM,
                          logitWidth: heads.classifierLabels > 0 ? heads.classifierLabels : model.config.vocabSize)

        let data = try loadData(request)
        let labels = try LabelPlan(examples: data.examples, labelMap: data.labelMap, teacher: model.config, heads: heads)
        try spec.checkSomethingToCache(labelled: labels.values.contains { $0 != nil })
        var provenance = try makeProvenance(request, model: model, weightsSHA256: try weightsSHA256.value(), data: data, labelNames: labels.names)
        logger.info("teacher \(request.teacher.path): \(model.config.numHiddenLayers) layers × \(model.config.hiddenSize), head \(provenance.teacher.head)")
        logger.info("data: \(data.examples.count) examples from \(request.data.map(\.lastPathComponent).joined(separator: ", "))\(data.skipped > 0 ? ", \(data.skipped) bad rows skipped" : "")")

        // The sequences of this run: all (example, view) pairs, or one shard's contiguous slice.
        // Sequence numbers are global either way, and masking and sampling are seeded by them.
        let maskedLM = CacheLayout.isMaskedLM(spec: spec, provenance: provenance)
        let views = maskedLM ? spec.maskViews : 1
        let all = data.examples.count * views
        let shard = try request.shard.map { selection in
            CacheShard(selection, sequences: try selection.sequences(of: all, batchSize: spec.batchSize), totalSequences: all)
        }
        let sequences = shard?.sequences ?? 0..<all
        if let shard {
            logger.info("shard \(shard.index)/\(shard.count): sequences \(shard.firstSequence)..<\(shard.endSequence) of \(all)")
        }

        // An inputs-only cache (fine-tuning data) needs no teacher outputs: the forward pass is skipped.
        let maxSeq = spec.maxLength
        let forward = spec.isInputsOnly ? nil : BertForward(model: model, maxBatch: spec.batchSize, maxSeq: maxSeq, capture: capture(for: spec),
                                                            precision: spec.precision ?? .fp32)
        let specials: Set<Int32> = [tokenizer.clsId, tokenizer.sepId, tokenizer.padId, tokenizer.unkId, tokenizer.maskId]
        /// The records of sequences `range`: tokenized, and masked for a masked-LM cache.
        func records(_ range: Range<Int>) -> [SequenceRecord] {
            range.map { sequence in
                let (example, view) = (sequence / views, sequence % views)
                let e = data.examples[example]
                let encoding = tokenizer.encode(e.text, pair: e.textPair, maxLength: maxSeq)
                var record = SequenceRecord(exampleIndex: example, view: view, exampleId: e.id, text: e.text, textPair: e.textPair,
                                            label: labels.values[example], inputIds: encoding.inputIds, tokenTypeIds: encoding.tokenTypeIds, masking: nil)
                if maskedLM {
                    let plan = Masking.mask(encoding.inputIds, specialIds: specials, maskId: tokenizer.maskId,
                                            vocabularySize: model.config.vocabSize, options: spec.masking,
                                            sequenceIndex: sequence, view: view)
                    record.inputIds = plan.maskedInputIds
                    record.masking = plan
                }
                return record
            }
        }
        /// One forward pass over `records` (its time counted as the teacher's), what the cache stores of it.
        var teacherNanoseconds: UInt64 = 0
        func teacherOutputs(_ forward: BertForward, _ records: inout [SequenceRecord]) throws -> TeacherOutputs {
            let input = paddedInput(records, padId: tokenizer.padId)
            let mlmRows = maskedLM ? records.enumerated().flatMap { b, r in r.masking!.positions.map { b * input.seq + Int($0) } } : nil
            let t0 = DispatchTime.now().uptimeNanoseconds
            do { try forward.run(input, mlmRows: mlmRows) } catch BertError.nonFinite(let row, let position, let detail) {
                let r = records[row]
                throw CacheError.nonFinite("\(detail) for example '\(r.exampleId)' (data row \(r.exampleIndex + 1)), token \(position)")
            }
            teacherNanoseconds += DispatchTime.now().uptimeNanoseconds - t0
            return pack(forward, &records, spec: spec, input: input)
        }
        if let forward, forward.precision != .fp32 {
            provenance.precisionCheck = try PrecisionCheck.measure(forward, records: records(0..<min(PrecisionCheck.sampleSequences, all)), spec: spec, run: teacherOutputs)
            for line in provenance.precisionCheck!.lines { logger.info("\(line)") }
        }

        let writer = request.resume
            ? try CacheWriter(resuming: request.output, spec: spec, provenance: provenance, shard: shard)
            : try CacheWriter(creating: request.output, spec: spec, provenance: provenance, shard: shard, overwrite: request.overwrite)
        let total = sequences.count
        let resumedFrom = writer.sequences
        if resumedFrom > 0 { logger.info("resuming \(writer.partialURL.path) after \(resumedFrom) committed sequences") }

        // Where a batch is written. Its encoding, compression and checksums cost CPU, and when the
        // teacher keeps every core busy a writer thread beside it takes a core from one of the
        // forward pass's workers while the others wait for that one: on 2 cores the forward passes
        // slowed by about the writer's whole CPU time. So with every core in the teacher, each batch
        // is written between two forward passes, its tensors and chunks encoded on all cores; with
        // a core to spare, a writer thread runs one batch behind the teacher, two batches in flight
        // at most. The file is the same either way (docs/benchmarks.md, fifth session).
        let writeBehind = Threads.count < Threads.available
        let queue = DispatchQueue(label: "distillery.cache-writer")
        let inFlight = DispatchSemaphore(value: 2)
        let failure = WriterFailure()
        var done = resumedFrom, tokensDone = 0

        do {
            var next = sequences.lowerBound + resumedFrom
            while next < sequences.upperBound && failure.error == nil {
                let range = next..<min(next + spec.batchSize, sequences.upperBound)
                var records = records(range)
                let outputs: TeacherOutputs
                if let forward {
                    outputs = try teacherOutputs(forward, &records)
                } else {
                    outputs = TeacherOutputs(sequences: records, hidden: [], attention: [], relations: [], logits: [], logitWidth: 0)
                }
                if writeBehind {
                    inFlight.wait()
                    queue.async {
                        defer { inFlight.signal() }
                        guard failure.error == nil else { return }
                        do { try writer.write(outputs) } catch { failure.error = error }
                    }
                } else {
                    try writer.write(outputs)
                }
                next = range.upperBound
                done = next - sequences.lowerBound
                tokensDone += outputs.tokenCount
                progress(CacheProgress(sequencesDone: done, sequencesTotal: total, tokensDone: tokensDone,
                                       elapsedSeconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
            }
            queue.sync {}
            if let error = failure.error { throw error }
            try writer.finish()
        } catch {
            queue.sync {}
            writer.abandon()
            throw error
        }
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return CacheSummary(output: request.output, sequences: writer.sequences, tokens: writer.tokens, resumedFrom: resumedFrom,
                            rowsSkipped: data.skipped, wallSeconds: wall, teacherSeconds: Double(teacherNanoseconds) / 1e9)
    }

    /// The max_length the teacher runs and the cache records: the default (128) comes down to a
    /// smaller teacher's max_position_embeddings; any other value over it is refused, naming
    /// config.json (it was capped silently while the cache recorded the larger number).
    static func maxLength(_ spec: CacheSpec, model: BertModel, teacher: URL, logger: Logger?) throws -> Int {
        let positions = model.config.maxSequenceLength
        guard spec.maxLength > positions else { return spec.maxLength }
        guard spec.maxLength == CacheSpec().maxLength else {
            throw CacheError.invalidSpec("max_length \(spec.maxLength) is over the teacher's \(model.config.positionsDescription) (\(teacher.path)/config.json); use at most \(positions)")
        }
        logger?.notice("max_length: the default \(spec.maxLength) is over the teacher's \(model.config.positionsDescription); caching at \(positions)")
        return positions
    }

    /// The teacher's work alone over the same data, batches and captures as `build`, writing
    /// nothing: the baseline the benchmark compares a whole cache run with. Timed like `build`,
    /// from the start: loading the model, tokenizer and data is work a run without a cache does too.
    /// `setupSeconds`: the part of `seconds` before the first forward pass.
    public static func teacherPass(_ request: CacheRequest) throws -> (seconds: Double, setupSeconds: Double, tokens: Int) {
        let start = DispatchTime.now().uptimeNanoseconds
        var spec = request.spec
        let model = try BertModel.load(directory: request.teacher)
        let tokenizer = try loadTeacherTokenizer(request.teacher, config: model.config)
        spec.maxLength = try maxLength(spec, model: model, teacher: request.teacher, logger: nil)
        let data = try loadData(request)
        let forward = BertForward(model: model, maxBatch: spec.batchSize, maxSeq: spec.maxLength,
                                  capture: capture(for: spec), precision: spec.precision ?? .fp32)
        let setupSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        var tokens = 0
        for first in stride(from: 0, to: data.examples.count, by: spec.batchSize) {
            let records = data.examples[first..<min(first + spec.batchSize, data.examples.count)].map { e in
                let encoding = tokenizer.encode(e.text, pair: e.textPair, maxLength: forward.maxSeq)
                return SequenceRecord(exampleIndex: 0, view: 0, exampleId: e.id, text: e.text, textPair: e.textPair, label: nil, inputIds: encoding.inputIds,
                                      tokenTypeIds: encoding.tokenTypeIds, masking: nil)
            }
            try forward.run(paddedInput(records, padId: tokenizer.padId))
            tokens += records.reduce(0) { $0 + $1.length }
        }
        return (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, setupSeconds, tokens)
    }

    static func capture(for spec: CacheSpec) -> BertCapture {
        var capture: BertCapture = []
        if !spec.hiddenLayers.isEmpty { capture.insert(.hiddenStates) }
        if !spec.attentionLayers.isEmpty { capture.insert(.attentions) }
        if !spec.relationLayers.isEmpty { capture.insert(.projections) }
        if !spec.logits.isEmpty { capture.insert(.logits) }
        return capture
    }

    // MARK: steps

    struct LoadedData {
        var examples: [Example] = []
        var labelMap: LabelMap?
        var files: [CacheProvenance.DataFile] = []
        var skipped = 0
    }

    /// Reads every data file; later files use the first file's label map so indices agree.
    static func loadData(_ request: CacheRequest) throws -> LoadedData {
        var result = LoadedData()
        guard !request.data.isEmpty else { throw CacheError.invalidSpec("no data file given") }
        for url in request.data {
            var options = request.readOptions
            if options.labelMap == nil { options.labelMap = result.labelMap }
            let dataset = try Dataset.load(url, options: options)
            result.examples += dataset.examples
            result.labelMap = result.labelMap ?? dataset.labelMap
            result.skipped += dataset.report.rowsSkipped
            result.files.append(.init(file: url.lastPathComponent, bytes: dataset.byteSize, sha256: dataset.contentHash, rows: dataset.examples.count))
        }
        guard !result.examples.isEmpty else { throw CacheError.badRow("\(request.data.map(\.path).joined(separator: ", ")): no examples") }
        return result
    }

    static func makeProvenance(_ request: CacheRequest, model: BertModel, weightsSHA256: String, data: LoadedData,
                               labelNames: [String]?) throws -> CacheProvenance {
        let folder = request.teacher
        let config = (try? String(contentsOf: folder.appendingPathComponent("config.json"), encoding: .utf8)) ?? ""
        let heads = model.heads
        let head = heads.classifierLabels > 0 ? "classifier" : (heads.maskedLM ? "masked-lm" : "none")
        let teacher = CacheProvenance.Teacher(
            path: folder.path, config: config,
            weightsSHA256: weightsSHA256,
            vocabularySHA256: try VocabularyIdentity.sha256(of: folder),
            vocabularySize: model.config.vocabSize, hiddenSize: model.config.hiddenSize, layers: model.config.numHiddenLayers,
            heads: model.config.numAttentionHeads, head: head, classifierLabels: heads.classifierLabels)
        return CacheProvenance(teacher: teacher, datasets: data.files, labelNames: labelNames,
                               exampleText: .init(pairs: data.examples.contains { $0.textPair != nil }))
    }

    /// Pads a batch to its longest sequence.
    static func paddedInput(_ records: [SequenceRecord], padId: Int32) -> BertInput {
        let seq = records.map(\.length).max() ?? 1
        var ids = [Int32](repeating: padId, count: records.count * seq)
        var types = [Int32](repeating: 0, count: ids.count), mask = [Int32](repeating: 0, count: ids.count)
        for (b, r) in records.enumerated() {
            for t in 0..<r.length { ids[b * seq + t] = r.inputIds[t]; types[b * seq + t] = r.tokenTypeIds[t]; mask[b * seq + t] = 1 }
        }
        return BertInput(batch: records.count, seq: seq, inputIds: ids, tokenTypeIds: types, attentionMask: mask)
    }

    /// Copies the real tokens' outputs out of the padded forward buffers (which the next batch reuses).
    static func pack(_ forward: BertForward, _ records: inout [SequenceRecord], spec: CacheSpec, input: BertInput) -> TeacherOutputs {
        let c = forward.model.config.hiddenSize, h = forward.model.config.numAttentionHeads, seq = input.seq
        let lengths = records.map(\.length)
        let hidden = spec.hiddenLayers.map { gatherRows(forward.hiddenState(layer: $0), width: c, seq: seq, lengths: lengths) }
        let relations = spec.relationLayers.map { gatherRows(forward.projections(layer: $0), width: 3 * c, seq: seq, lengths: lengths) }
        let attention = spec.attentionLayers.map { gatherAttention(forward.attentionProbabilities(layer: $0), heads: h, seq: seq, lengths: lengths) }
        var logits: [Float] = [], width = 0
        if !spec.logits.isEmpty {
            if forward.model.heads.classifierLabels > 0 {
                logits = Array(forward.classifierLogits)
                width = forward.model.heads.classifierLabels
            } else {
                logits = Array(forward.maskedLMLogits)
                width = forward.model.config.vocabSize
            }
        }
        return TeacherOutputs(sequences: records, hidden: hidden, attention: attention, relations: relations, logits: logits, logitWidth: width)
    }
}

/// The real tokens' rows of a padded (batch, seq, width) buffer, sequence after sequence: (Σn, width).
/// This copy runs between two forward passes, on the teacher's critical path, so it fills one
/// array allocated at its final size on all cores.
func gatherRows(_ source: UnsafeBufferPointer<Float>, width: Int, seq: Int, lengths: [Int]) -> [Float] {
    gather(sizes: lengths.map { $0 * width }) { b, out in
        out.update(from: source.baseAddress! + b * seq * width, count: lengths[b] * width)
    }
}

/// The real (query, key) block of each head of a padded (batch, heads, seq, seq) buffer: per
/// sequence heads × n × n, sequence after sequence.
func gatherAttention(_ source: UnsafeBufferPointer<Float>, heads: Int, seq: Int, lengths: [Int]) -> [Float] {
    gather(sizes: lengths.map { heads * $0 * $0 }) { b, out in
        let n = lengths[b]
        for head in 0..<heads {
            for i in 0..<n {
                (out + (head * n + i) * n).update(from: source.baseAddress! + ((b * heads + head) * seq + i) * seq, count: n)
            }
        }
    }
}

/// One array of Σ sizes floats; `fill(b, start)` writes part b's sizes[b] floats at start, the parts on all cores.
private func gather(sizes: [Int], _ fill: (Int, UnsafeMutablePointer<Float>) -> Void) -> [Float] {
    var offsets = [0]
    for size in sizes { offsets.append(offsets.last! + size) }
    return [Float](unsafeUninitializedCapacity: offsets.last!) { buffer, count in
        let base = buffer.baseAddress
        parallelFor(sizes.count) { range in
            for b in range where sizes[b] > 0 { fill(b, base! + offsets[b]) }
        }
        count = offsets.last!
    }
}

/// The first error of the writer thread, seen by the teacher loop.
private final class WriterFailure: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Error?
    var error: Error? {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = stored ?? newValue; lock.unlock() }
    }
}

/// How dataset labels become what the cache stores, checked against the teacher's head.
struct LabelPlan {
    var names: [String]?
    var values: [LabelValue?]

    init(examples: [Example], labelMap: LabelMap?, teacher: BertConfig, heads: BertHeads) throws {
        let classes = heads.classifierLabels
        // A fine-tuned teacher's own class names fix the index order; generic LABEL_i names do not.
        let teacherNames = teacher.labels.flatMap { names in names.enumerated().allSatisfy { $0.element == "LABEL_\($0.offset)" } ? nil : names }
        if let labelMap {
            let order = teacherNames ?? labelMap.names
            if let teacherNames, let unknown = labelMap.names.first(where: { !teacherNames.contains($0) }) {
                throw CacheError.incompatible("label '\(unknown)' is not one of the teacher's classes \(teacherNames)")
            }
            if classes > 0 && order.count > classes {
                throw CacheError.incompatible("the data has \(order.count) classes but the teacher's classifier has \(classes)")
            }
            names = order
            let index = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($0.element, Int64($0.offset)) })
            values = examples.map { e in
                switch e.label {
                case .name(let name)?: return .classIndex(index[name]!)
                // With a fixed label map, numbers are indices into it (the map has checked their range).
                case .number(let value)?: return .classIndex(index[labelMap.names[Int(value)]]!)
                case nil: return nil
                }
            }
        } else {
            names = nil
            values = try examples.map { e in
                guard case .number(let value)? = e.label else { return nil }
                if classes == 1 { return .regression(Float(value)) }
                guard value.rounded() == value, value >= 0, classes == 0 || Int(value) < classes else {
                    throw CacheError.badRow("example '\(e.id)': label \(value) is not a class index\(classes > 0 ? " in 0..<\(classes)" : "")")
                }
                return .classIndex(Int64(value))
            }
            // Class indices without names still fix how many classes a student needs:
            // the teacher's head width, else the largest index seen + 1.
            let largest = values.compactMap { value -> Int64? in if case .classIndex(let i)? = value { return i } else { return nil } }.max()
            if classes != 1, let largest {
                names = teacher.labels ?? (0..<max(classes, Int(largest) + 1)).map(String.init)
            }
        }
    }
}

/// A value computed on a background thread; `value()` waits for it (and rethrows its error).
final class BackgroundResult<T: Sendable>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<T, Error>?

    init(_ work: @escaping @Sendable () throws -> T) {
        DispatchQueue.global().async {
            self.result = Result { try work() }
            self.done.signal()
        }
    }

    func value() throws -> T {
        done.wait()
        done.signal()  // a later call must not block
        return try result!.get()
    }
}
