import Foundation
import HDF5

/// Names of everything inside a cache file (schema version 1). The readable description is
/// schemas/cache-layout.md and the machine-readable one schemas/cache-v1.schema.json; `verify`
/// checks files against the latter.
///
/// Ragged layout, no padding stored: one token axis for all sequences and int64 offsets
/// (sequence i owns tokens offsets[i]..<offsets[i+1]); per-sequence data on a sequence axis.
public enum CacheLayout {
    public static let schemaVersion: Int64 = 1

    // Root attributes.
    public static let schemaVersionAttribute = "distillery_schema_version"
    public static let toolVersionAttribute = "distillery_version"
    public static let completeAttribute = "complete"
    public static let committedSequencesAttribute = "committed_sequences"
    public static let sequencesAttribute = "sequences"
    public static let tokensAttribute = "tokens"
    public static let specAttribute = "spec"
    public static let teacherAttribute = "teacher"
    public static let datasetsAttribute = "datasets"
    public static let labelNamesAttribute = "label_names"
    public static let createdAttribute = "created"
    public static let headAttribute = "teacher_head"
    /// A shard file (`cache --shard I/N`): JSON of `CacheShard`.
    public static let shardAttribute = "shard"
    /// A merged cache (`cache merge`): JSON of its `[MergedShard]`, in order. Its datasets are
    /// virtual over the shard files, except the offsets, which are stored re-based.
    public static let mergedShardsAttribute = "merged_shards"

    // Dataset attributes.
    public static let codecAttribute = "codec"
    public static let maxErrorAttribute = "max_abs_error"
    public static let committedRowsAttribute = "committed_rows"
    /// In a file being written: the unfinished last chunk of every dataset at the last commit,
    /// as raw rows (`_commit/<n>/<dataset path with / as .>`). Gone once the file is complete.
    public static let commitGroup = "_commit"
    public static let commitNumberAttribute = "commit_number"
    static func tailName(_ path: String) -> String { path.replacingOccurrences(of: "/", with: ".") }

    // Inputs.
    public static let offsets = "inputs/offsets"
    public static let inputIds = "inputs/input_ids"
    public static let tokenTypeIds = "inputs/token_type_ids"
    public static let exampleIndex = "inputs/example_index"
    /// A string per sequence: UTF-8 bytes on an axis of their own, and int64 offsets (sequence i
    /// owns bytes offsets[i]..<offsets[i+1]).
    public struct StringColumn: Sendable, Equatable {
        public let bytes: String, offsets: String, axis: String
    }
    /// Each sequence's example id (always stored).
    public static let exampleIds = StringColumn(bytes: "inputs/example_id_bytes", offsets: "inputs/example_id_offsets", axis: "example_id_bytes")
    /// Each sequence's example text, as the teacher's tokenizer read it (students with another
    /// tokenizer encode it themselves), and the second text of pairs.
    public static let texts = StringColumn(bytes: "inputs/text_bytes", offsets: "inputs/text_offsets", axis: "text_bytes")
    public static let textPairs = StringColumn(bytes: "inputs/text_pair_bytes", offsets: "inputs/text_pair_offsets", axis: "text_pair_bytes")

    /// The string columns of a cache: example ids always, texts (and pairs) where the provenance says so.
    public static func stringColumns(_ provenance: CacheProvenance) -> [StringColumn] {
        guard let text = provenance.exampleText else { return [exampleIds] }
        return text.pairs ? [exampleIds, texts, textPairs] : [exampleIds, texts]
    }
    public static let labels = "inputs/labels"

    // Masked-LM teachers: positions masked in stage one (within each sequence) and the tokens they hid.
    public static let maskOffsets = "mlm/offsets"
    public static let maskPositions = "mlm/positions"
    public static let maskOriginalIds = "mlm/original_ids"

    // Output distribution: one row per sequence (classifier) or per masked position (MLM).
    public static let fullLogits = "logits/full"
    public static let topKIds = "logits/topk_ids"
    public static let topKLogProbs = "logits/topk_logprobs"
    public static let sampledOffsets = "logits/sampled_offsets"
    public static let sampledIds = "logits/sampled_ids"
    public static let sampledCounts = "logits/sampled_counts"

    // Intermediate layers.
    public static func hidden(_ layer: Int) -> String { "hidden/layer_\(layer)" }
    public static func attention(_ layer: Int) -> String { "attention/layer_\(layer)" }
    /// Offsets into the flattened attention values: sequence i owns heads·n_i² values.
    public static let attentionOffsets = "attention/offsets"
    public static func relations(_ layer: Int) -> String { "relations/layer_\(layer)" }
    /// The offsets arrays: each shard's start at 0, so a merged cache stores them shifted.
    public static let offsetDatasets = [offsets, exampleIds.offsets, texts.offsets, textPairs.offsets, maskOffsets, attentionOffsets, sampledOffsets]
    /// Per-row scales of an int8 tensor dataset.
    public static func scales(of path: String) -> String { path + "_scale" }

    // MARK: what a file with a given spec holds

    public struct TensorDataset: Sendable, Equatable {
        public var path: String
        public var codec: TensorCodec
        /// Row width; 0 for attention, whose rows are each sequence's own length.
        public var columns: Int
    }

    public struct PlannedDataset: Sendable, Equatable {
        public var path: String
        public var type: H5ElementType
        public var columns: Int
        /// What the rows index: "sequences+1", "tokens", "sequences", "masked", "masked+1", "rows", …
        public var axis: String
    }

    /// Token ids take the smallest integer type that holds the vocabulary.
    public static func idType(_ provenance: CacheProvenance) -> H5ElementType {
        provenance.teacher.vocabularySize <= Int(UInt16.max) ? .uint16 : .int32
    }

    public static func isMaskedLM(spec: CacheSpec, provenance: CacheProvenance) -> Bool {
        provenance.teacher.head == "masked-lm" && !spec.logits.isEmpty
    }

    /// Width of one output-distribution row.
    public static func logitWidth(_ provenance: CacheProvenance) -> Int {
        provenance.teacher.head == "classifier" ? provenance.teacher.classifierLabels : provenance.teacher.vocabularySize
    }

    /// The exclusive upper bound of an integer dataset whose values index something — token ids
    /// into the vocabulary, logit ids into a logit row, class labels, token types into their
    /// embedding — or nil. `verify` and every reader refuse a value outside 0..<bound, by dataset
    /// and row, before it indexes anything (a valid checksum says nothing about the values).
    /// Masked positions are bounded per sequence (`maskPositions`, by its token count).
    public static func indexBound(_ path: String, provenance: CacheProvenance) -> (bound: Int, what: String)? {
        switch path {
        case inputIds, maskOriginalIds: return (provenance.teacher.vocabularySize, "the teacher's vocabulary")
        case topKIds, sampledIds: return (logitWidth(provenance), provenance.teacher.head == "classifier" ? "the teacher's classes" : "the teacher's vocabulary")
        case labels:
            if let names = provenance.labelNames { return (names.count, "the label map (label_names)") }
            return provenance.teacher.classifierLabels > 1 ? (provenance.teacher.classifierLabels, "the teacher's classes") : nil
        case tokenTypeIds:
            let config = try? JSONSerialization.jsonObject(with: Data(provenance.teacher.config.utf8)) as? [String: Any]
            return ((config?["type_vocab_size"] as? Int) ?? 2, "the teacher's token types (type_vocab_size)")
        default: return nil
        }
    }

    /// Every integer dataset that `indexBound` bounds.
    public static let boundedDatasets = [inputIds, maskOriginalIds, topKIds, sampledIds, labels, tokenTypeIds]

    /// The bounds of `boundedDatasets` for this provenance, worked out once per reader.
    public static func indexBounds(provenance: CacheProvenance) -> [String: (bound: Int, what: String)] {
        Dictionary(uniqueKeysWithValues: boundedDatasets.compactMap { path in indexBound(path, provenance: provenance).map { (path, $0) } })
    }

    /// The first masked position outside its sequence's tokens: `positions` are rows `firstRow…`
    /// of mlm/positions; sequence i owns rows maskOffsets[i]..<maskOffsets[i+1] and has
    /// tokenOffsets[i+1] − tokenOffsets[i] tokens. Returns (row, position, sequence) or nil.
    public static func firstPositionOutsideItsSequence<T: BinaryInteger>(_ positions: [T], firstRow: Int, maskOffsets: [Int64],
                                                                         tokenOffsets: [Int64]) -> (row: Int, position: Int64, sequence: Int)? {
        guard !positions.isEmpty else { return nil }
        // The sequence owning the first row: the last i with maskOffsets[i] <= firstRow (binary search).
        var low = 0, high = max(0, maskOffsets.count - 1)
        while low + 1 < high {
            let mid = (low + high) / 2
            if maskOffsets[mid] <= Int64(firstRow) { low = mid } else { high = mid }
        }
        var sequence = low
        for (k, position) in positions.enumerated() {
            let row = firstRow + k
            while sequence + 1 < maskOffsets.count && Int64(row) >= maskOffsets[sequence + 1] { sequence += 1 }
            guard sequence + 1 < tokenOffsets.count else { return (row, Int64(position), sequence) }
            if position < 0 || Int64(position) >= tokenOffsets[sequence + 1] - tokenOffsets[sequence] { return (row, Int64(position), sequence) }
        }
        return nil
    }

    /// The first value outside 0..<bound, with its index.
    public static func firstOutOfRange<T: BinaryInteger>(_ values: [T], below bound: Int) -> (index: Int, value: Int64)? {
        values.firstIndex { $0 < 0 || Int64($0) >= Int64(bound) }.map { ($0, Int64(values[$0])) }
    }

    public static func tensorDatasets(spec: CacheSpec, provenance: CacheProvenance) -> [TensorDataset] {
        let c = provenance.teacher.hiddenSize
        var list = spec.hiddenLayers.map { TensorDataset(path: hidden($0), codec: spec.codecs.hidden, columns: c) }
        list += spec.attentionLayers.map { TensorDataset(path: attention($0), codec: spec.codecs.attention, columns: 0) }
        list += spec.relationLayers.map { TensorDataset(path: relations($0), codec: spec.codecs.relations, columns: 3 * c) }
        if spec.logits.contains(.full) { list.append(TensorDataset(path: fullLogits, codec: spec.codecs.logits, columns: logitWidth(provenance))) }
        if spec.logits.contains(.topk) { list.append(TensorDataset(path: topKLogProbs, codec: spec.codecs.logits, columns: spec.topK)) }
        return list
    }

    /// Every dataset a cache made with `spec` holds: the single source for the writer, `verify`
    /// and the machine-readable schema (schemas/cache-v1.schema.json is generated from it).
    public static func datasets(spec: CacheSpec, provenance: CacheProvenance) -> [PlannedDataset] {
        let ids = idType(provenance)
        let outputAxis = isMaskedLM(spec: spec, provenance: provenance) ? "masked" : "sequences"
        var plan: [PlannedDataset] = [
            .init(path: offsets, type: .int64, columns: 0, axis: "sequences+1"),
            .init(path: inputIds, type: ids, columns: 0, axis: "tokens"),
            .init(path: tokenTypeIds, type: .uint8, columns: 0, axis: "tokens"),
            .init(path: exampleIndex, type: .int64, columns: 0, axis: "sequences"),
        ]
        for column in stringColumns(provenance) {
            plan += [.init(path: column.bytes, type: .uint8, columns: 0, axis: column.axis),
                     .init(path: column.offsets, type: .int64, columns: 0, axis: "sequences+1")]
        }
        if provenance.labelNames != nil || provenance.teacher.classifierLabels == 1 {
            plan.append(.init(path: labels, type: provenance.teacher.classifierLabels == 1 ? .float32 : .int64, columns: 0, axis: "sequences"))
        }
        if isMaskedLM(spec: spec, provenance: provenance) {
            plan += [.init(path: maskOffsets, type: .int64, columns: 0, axis: "sequences+1"),
                     .init(path: maskPositions, type: .int32, columns: 0, axis: "masked"),
                     .init(path: maskOriginalIds, type: ids, columns: 0, axis: "masked")]
        }
        if !spec.attentionLayers.isEmpty { plan.append(.init(path: attentionOffsets, type: .int64, columns: 0, axis: "sequences+1")) }
        if spec.logits.contains(.topk) { plan.append(.init(path: topKIds, type: ids, columns: spec.topK, axis: outputAxis)) }
        if spec.logits.contains(.sampled) {
            plan += [.init(path: sampledOffsets, type: .int64, columns: 0, axis: outputAxis + "+1"),
                     .init(path: sampledIds, type: ids, columns: 0, axis: "samples"),
                     .init(path: sampledCounts, type: .uint16, columns: 0, axis: "samples")]
        }
        for tensor in tensorDatasets(spec: spec, provenance: provenance) {
            let axis = tensor.path.hasPrefix("attention/") ? "attention_values"
                : tensor.path.hasPrefix("logits/") ? outputAxis : "tokens"
            plan.append(.init(path: tensor.path, type: tensor.codec.storedType, columns: tensor.columns, axis: axis))
            if tensor.codec == .int8 {
                plan.append(.init(path: scales(of: tensor.path), type: .float32, columns: 0,
                                  axis: axis == "attention_values" ? "attention_rows" : axis))
            }
        }
        return plan
    }
}
