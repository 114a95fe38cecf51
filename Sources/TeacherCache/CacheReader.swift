import Foundation
import HDF5

/// One cached sequence, decoded to Float. Tensors are row-major and unpadded.
public struct CachedSequence: Sendable {
    public var index: Int
    public var exampleIndex: Int
    public var exampleId: String
    /// The example's text and the second text of a pair (read when the selection asks for `texts`).
    public var text: String?
    public var textPair: String?
    public var inputIds: [Int32]
    public var tokenTypeIds: [Int32]
    /// Class index (as Float) or regression target, when the data had labels.
    public var label: Float?
    /// Masked-LM teachers: positions masked in stage one and the tokens they hid.
    public var maskedPositions: [Int32] = []
    public var maskedOriginalIds: [Int32] = []
    /// Layer → (n, hidden).
    public var hidden: [Int: [Float]] = [:]
    /// Layer → (heads, n, n).
    public var attention: [Int: [Float]] = [:]
    /// Layer → (n, 3·hidden) as [query | key | value].
    public var relations: [Int: [Float]] = [:]
    /// (rows, width): one row (classifier) or one per masked position.
    public var fullLogits: [Float] = []
    /// (rows, k) ids and log-probabilities over the full vocabulary.
    public var topKIds: [Int32] = []
    public var topKLogProbs: [Float] = []
    /// Per row: distinct sampled ids and their counts (Random-Sampling KD).
    public var sampled: [(ids: [Int32], counts: [UInt16])] = []

    public var length: Int { inputIds.count }
}

/// Which components a reader decodes (a student reads only what its objectives need).
public struct CacheSelection: Sendable, Equatable {
    public var hiddenLayers: [Int]
    public var attentionLayers: [Int]
    public var relationLayers: [Int]
    public var logits: [CacheSpec.LogitsForm]
    /// The examples' texts (students with another tokenizer encode them themselves).
    public var texts: Bool

    public init(hiddenLayers: [Int] = [], attentionLayers: [Int] = [], relationLayers: [Int] = [], logits: [CacheSpec.LogitsForm] = [],
                texts: Bool = false) {
        self.hiddenLayers = hiddenLayers; self.attentionLayers = attentionLayers; self.relationLayers = relationLayers; self.logits = logits
        self.texts = texts
    }

    /// Everything the cache holds.
    public static func all(of spec: CacheSpec) -> CacheSelection {
        CacheSelection(hiddenLayers: spec.hiddenLayers, attentionLayers: spec.attentionLayers, relationLayers: spec.relationLayers, logits: spec.logits)
    }
}

/// Reads a finished cache: random access by sequence, or contiguous ranges (one HDF5 read per
/// dataset, so each chunk is decompressed once per range).
public final class CacheReader {
    public let url: URL
    public let spec: CacheSpec
    public let provenance: CacheProvenance
    public let sequenceCount: Int
    public let tokenCount: Int
    public let labelNames: [String]?
    public let isMaskedLM: Bool
    /// A merged cache (`cache merge`): its shard files in order; empty for a single file.
    public let shards: [MergedShard]
    let file: H5File
    private let offsets: [Int64]
    /// Offsets of each string column the file holds (example ids; texts and pairs when stored), by offsets path.
    private let stringOffsets: [String: [Int64]]
    private let maskOffsets: [Int64]
    private let attentionOffsets: [Int64]
    private let sampledOffsets: [Int64]
    private var datasets: [String: H5Dataset] = [:]
    /// What each index dataset's values must stay below (`CacheLayout.indexBound`), worked out once.
    private let indexBounds: [String: (bound: Int, what: String)]

    public init(url: URL) throws {
        self.url = url
        guard FileManager.default.fileExists(atPath: url.path) else { throw CacheFile.missing(url, what: "cache") }
        let root: H5Group
        (file, root) = try CacheFile.open(url)
        let version = try root.int64Attribute(CacheLayout.schemaVersionAttribute)
        guard version <= CacheLayout.schemaVersion else {
            throw CacheError.incompatible("\(url.path) has cache schema version \(version); this Distillery reads up to \(CacheLayout.schemaVersion) (upgrade Distillery)")
        }
        guard try root.hasAttribute(CacheLayout.completeAttribute), try root.int64Attribute(CacheLayout.completeAttribute) == 1 else {
            throw CacheError.incomplete("\(url.path) is not marked complete (an interrupted write?); rebuild it or resume the .partial file")
        }
        spec = try CacheProvenance.decode(CacheSpec.self, from: root.stringAttribute(CacheLayout.specAttribute), what: "spec")
        provenance = try CacheProvenance.decode(CacheProvenance.self, from: root.stringAttribute(CacheLayout.teacherAttribute), what: "teacher")
        sequenceCount = Int(try root.int64Attribute(CacheLayout.sequencesAttribute))
        tokenCount = Int(try root.int64Attribute(CacheLayout.tokensAttribute))
        labelNames = try root.hasAttribute(CacheLayout.labelNamesAttribute)
            ? try CacheProvenance.decode([String].self, from: root.stringAttribute(CacheLayout.labelNamesAttribute), what: "label_names") : nil
        isMaskedLM = try root.stringAttribute(CacheLayout.headAttribute) == "masked-lm"
        shards = try Self.mergedShards(root, url)
        // HDF5 reads a missing virtual-dataset source as fill values without an error.
        if let missing = shards.first(where: { !FileManager.default.fileExists(atPath: $0.url(relativeTo: url).path) }) {
            throw CacheError.incomplete("\(url.path) is a merged cache whose shard \(missing.index)/\(missing.count) is missing: \(missing.url(relativeTo: url).path) (move shard files together with the merged file)")
        }

        func readOffsets(_ path: String, count: Int) throws -> [Int64] {
            guard try root.hasChild(path.split(separator: "/").first.map(String.init) ?? path) else { return [] }
            let dataset = try root.dataset(path)
            guard dataset.rows == count + 1 else {
                throw CacheError.corrupt("\(url.path): \(path) has \(dataset.rows) entries, expected \(count + 1)")
            }
            let values = try dataset.read(Int64.self, rows: 0..<dataset.rows)
            guard values.first == 0, zip(values, values.dropFirst()).allSatisfy({ $0 <= $1 }) else {
                throw CacheError.corrupt("\(url.path): \(path) is not a monotone offset array starting at 0")
            }
            return values
        }
        offsets = try readOffsets(CacheLayout.offsets, count: sequenceCount)
        guard offsets.last.map(Int.init) == tokenCount else {
            throw CacheError.corrupt("\(url.path): offsets end at \(offsets.last ?? -1) but the file records \(tokenCount) tokens")
        }
        var stringOffsets: [String: [Int64]] = [:]
        for column in CacheLayout.stringColumns(provenance) {
            stringOffsets[column.offsets] = try readOffsets(column.offsets, count: sequenceCount)
        }
        self.stringOffsets = stringOffsets
        maskOffsets = isMaskedLM ? try readOffsets(CacheLayout.maskOffsets, count: sequenceCount) : []
        attentionOffsets = spec.attentionLayers.isEmpty ? [] : try readOffsets(CacheLayout.attentionOffsets, count: sequenceCount)
        let logitRows = isMaskedLM ? Int(maskOffsets.last ?? 0) : sequenceCount
        sampledOffsets = spec.logits.contains(.sampled) ? try readOffsets(CacheLayout.sampledOffsets, count: logitRows) : []
        indexBounds = CacheLayout.indexBounds(provenance: provenance)
    }

    /// The shard list of a merged cache (empty for any other).
    static func mergedShards(_ root: H5Group, _ url: URL) throws -> [MergedShard] {
        guard try root.hasAttribute(CacheLayout.mergedShardsAttribute) else { return [] }
        return try CacheProvenance.decode([MergedShard].self, from: root.stringAttribute(CacheLayout.mergedShardsAttribute), what: CacheLayout.mergedShardsAttribute)
    }

    /// Token range of sequence `i` on the token axis.
    public func tokenRange(_ i: Int) -> Range<Int> { Int(offsets[i])..<Int(offsets[i + 1]) }

    func dataset(_ path: String) throws -> H5Dataset {
        if let d = datasets[path] { return d }
        let d = try file.root.dataset(path)
        datasets[path] = d
        return d
    }

    public func sequence(_ i: Int, selection: CacheSelection? = nil) throws -> CachedSequence {
        try sequences(i..<(i + 1), selection: selection)[0]
    }

    /// Decodes a contiguous range of sequences.
    public func sequences(_ range: Range<Int>, selection: CacheSelection? = nil) throws -> [CachedSequence] {
        guard range.lowerBound >= 0, range.upperBound <= sequenceCount else {
            throw CacheError.io("\(url.path): sequences \(range) outside 0..<\(sequenceCount)")
        }
        if range.isEmpty { return [] }
        let selection = selection ?? .all(of: spec)
        try check(selection)
        let t = provenance.teacher
        let tokens = Int(offsets[range.lowerBound])..<Int(offsets[range.upperBound])
        let ids = try readIds(CacheLayout.inputIds, tokens)
        let types = try checked(CacheLayout.tokenTypeIds, try dataset(CacheLayout.tokenTypeIds).read(UInt8.self, rows: tokens), first: tokens.lowerBound)
        let exampleIndex = try dataset(CacheLayout.exampleIndex).read(Int64.self, rows: range)
        let exampleIds = try strings(CacheLayout.exampleIds, range)
        let labels: [Float]? = try file.root.hasChild("inputs") && (try file.root.group("inputs").hasChild("labels"))
            ? try readFloatsOrInts(CacheLayout.labels, range) : nil

        var result: [CachedSequence] = []
        for i in range {
            let local = tokenRange(i).lowerBound - tokens.lowerBound
            let n = tokenRange(i).count
            result.append(CachedSequence(
                index: i, exampleIndex: Int(exampleIndex[i - range.lowerBound]), exampleId: exampleIds[i - range.lowerBound],
                inputIds: Array(ids[local..<(local + n)]), tokenTypeIds: types[local..<(local + n)].map(Int32.init),
                label: labels?[i - range.lowerBound]))
        }
        for l in selection.hiddenLayers {
            let values = try readTensor(CacheLayout.hidden(l), rows: tokens, width: t.hiddenSize)
            for k in result.indices { result[k].hidden[l] = slice(values, rows: tokenRange(result[k].index), base: tokens.lowerBound, width: t.hiddenSize) }
        }
        for l in selection.relationLayers {
            let values = try readTensor(CacheLayout.relations(l), rows: tokens, width: 3 * t.hiddenSize)
            for k in result.indices { result[k].relations[l] = slice(values, rows: tokenRange(result[k].index), base: tokens.lowerBound, width: 3 * t.hiddenSize) }
        }
        if !selection.attentionLayers.isEmpty {
            let flat = Int(attentionOffsets[range.lowerBound])..<Int(attentionOffsets[range.upperBound])
            for l in selection.attentionLayers {
                let values = try readAttention(CacheLayout.attention(l), range: range, flat: flat)
                for k in result.indices {
                    let i = result[k].index
                    result[k].attention[l] = Array(values[Int(attentionOffsets[i]) - flat.lowerBound..<Int(attentionOffsets[i + 1]) - flat.lowerBound])
                }
            }
        }
        if selection.texts {
            for (k, text) in try strings(CacheLayout.texts, range).enumerated() { result[k].text = text }
            if provenance.exampleText?.pairs == true {
                for (k, pair) in try strings(CacheLayout.textPairs, range).enumerated() { result[k].textPair = pair }
            }
        }
        try readLogits(selection, range: range, into: &result)
        return result
    }

    /// One string per sequence of `range` from a string column.
    private func strings(_ column: CacheLayout.StringColumn, _ range: Range<Int>) throws -> [String] {
        guard let ends = stringOffsets[column.offsets] else {
            throw CacheError.incompatible("\(url.path) stores no \(column.bytes) (a cache written before example texts were stored); rebuild it with `distillery cache`")
        }
        let base = Int(ends[range.lowerBound])
        let bytes = try dataset(column.bytes).read(UInt8.self, rows: base..<Int(ends[range.upperBound]))
        return range.map { i in String(decoding: bytes[(Int(ends[i]) - base)..<(Int(ends[i + 1]) - base)], as: UTF8.self) }
    }

    // MARK: decoding helpers

    private func check(_ selection: CacheSelection) throws {
        for (name, wanted, have) in [("hidden", selection.hiddenLayers, spec.hiddenLayers), ("attention", selection.attentionLayers, spec.attentionLayers),
                                     ("relation", selection.relationLayers, spec.relationLayers)] {
            if let missing = wanted.first(where: { !have.contains($0) }) {
                throw CacheError.incompatible("\(url.path) has no \(name) layer \(missing) (it holds \(have))")
            }
        }
        if let missing = selection.logits.first(where: { !spec.logits.contains($0) }) {
            throw CacheError.incompatible("\(url.path) has no \(missing.rawValue) logits (it holds \(spec.logits.map(\.rawValue)))")
        }
    }

    private func slice(_ values: [Float], rows: Range<Int>, base: Int, width: Int) -> [Float] {
        Array(values[((rows.lowerBound - base) * width)..<((rows.upperBound - base) * width)])
    }

    /// Ids of a dataset (uint16 or int32), refused when one is outside its index bound.
    private func readIds(_ path: String, _ rows: Range<Int>) throws -> [Int32] {
        let d = try dataset(path)
        let ids = d.elementType == .uint16 ? try d.read(UInt16.self, rows: rows).map(Int32.init) : try d.read(Int32.self, rows: rows)
        return try checked(path, ids, first: rows.lowerBound, width: max(1, d.columns))
    }

    /// Labels: regression scores (float32), or class indices refused outside the label map.
    private func readFloatsOrInts(_ path: String, _ rows: Range<Int>) throws -> [Float] {
        let d = try dataset(path)
        guard d.elementType != .float32 else { return try d.read(Float.self, rows: rows) }
        return try checked(path, try d.read(Int64.self, rows: rows), first: rows.lowerBound).map(Float.init)
    }

    /// `values` (rows from `first`, `width` per row) unless one is outside the dataset's index bound.
    private func checked<T: BinaryInteger>(_ path: String, _ values: [T], first: Int, width: Int = 1) throws -> [T] {
        guard let (bound, what) = indexBounds[path],
              let (index, value) = CacheLayout.firstOutOfRange(values, below: bound) else { return values }
        throw CacheError.corrupt("\(url.path): /\(path) row \(first + index / width): value \(value) is outside 0..<\(bound) (\(what)); the file is damaged or was not written by Distillery")
    }

    /// A tensor dataset decoded to Float: float types widen exactly; int8 multiplies by its row scale.
    func readTensor(_ path: String, rows: Range<Int>, width: Int) throws -> [Float] {
        let d = try dataset(path)
        guard d.elementType == .int8 else { return try d.read(Float.self, rows: rows) }
        let q = try d.read(Int8.self, rows: rows)
        let scales = try dataset(CacheLayout.scales(of: path)).read(Float.self, rows: rows)
        var out = [Float](repeating: 0, count: q.count)
        for r in 0..<scales.count { for j in 0..<width { out[r * width + j] = Float(q[r * width + j]) * scales[r] } }
        return out
    }

    /// Flattened attention of sequences `range`; int8 scales are per query row (heads·n rows per sequence).
    private func readAttention(_ path: String, range: Range<Int>, flat: Range<Int>) throws -> [Float] {
        let d = try dataset(path)
        guard d.elementType == .int8 else { return try d.read(Float.self, rows: flat) }
        // Sequence i has heads·n_i query rows, so its first scale is heads · offsets[i].
        let heads = provenance.teacher.heads
        let q = try d.read(Int8.self, rows: flat)
        let firstScale = heads * Int(offsets[range.lowerBound])
        let scaleCount = heads * (Int(offsets[range.upperBound]) - Int(offsets[range.lowerBound]))
        let scales = try dataset(CacheLayout.scales(of: path)).read(Float.self, rows: firstScale..<(firstScale + scaleCount))
        var out = [Float](repeating: 0, count: q.count), position = 0, scaleIndex = 0
        for i in range {
            let n = tokenRange(i).count
            for _ in 0..<(heads * n) {
                for j in 0..<n { out[position + j] = Float(q[position + j]) * scales[scaleIndex] }
                position += n; scaleIndex += 1
            }
        }
        return out
    }

    private func readLogits(_ selection: CacheSelection, range: Range<Int>, into result: inout [CachedSequence]) throws {
        // Output rows: one per sequence, or one per masked position.
        let rows = isMaskedLM ? Int(maskOffsets[range.lowerBound])..<Int(maskOffsets[range.upperBound]) : range
        func rowsOf(_ i: Int) -> Range<Int> { isMaskedLM ? Int(maskOffsets[i])..<Int(maskOffsets[i + 1]) : i..<(i + 1) }
        if isMaskedLM {
            let positions = try dataset(CacheLayout.maskPositions).read(Int32.self, rows: rows)
            let originals = try readIds(CacheLayout.maskOriginalIds, rows)
            if let bad = CacheLayout.firstPositionOutsideItsSequence(positions, firstRow: rows.lowerBound, maskOffsets: maskOffsets, tokenOffsets: offsets) {
                throw CacheError.corrupt("\(url.path): /\(CacheLayout.maskPositions) row \(bad.row): position \(bad.position) is outside sequence \(bad.sequence)'s tokens")
            }
            for k in result.indices {
                let r = rowsOf(result[k].index)
                result[k].maskedPositions = Array(positions[(r.lowerBound - rows.lowerBound)..<(r.upperBound - rows.lowerBound)])
                result[k].maskedOriginalIds = Array(originals[(r.lowerBound - rows.lowerBound)..<(r.upperBound - rows.lowerBound)])
            }
        }
        if selection.logits.contains(.full) {
            let width = try dataset(CacheLayout.fullLogits).columns
            let values = try readTensor(CacheLayout.fullLogits, rows: rows, width: width)
            for k in result.indices { result[k].fullLogits = slice(values, rows: rowsOf(result[k].index), base: rows.lowerBound, width: width) }
        }
        if selection.logits.contains(.topk) {
            let k = spec.topK
            let ids = try readIds(CacheLayout.topKIds, rows)
            let logProbs = try readTensor(CacheLayout.topKLogProbs, rows: rows, width: k)
            for j in result.indices {
                let r = rowsOf(result[j].index)
                result[j].topKIds = Array(ids[((r.lowerBound - rows.lowerBound) * k)..<((r.upperBound - rows.lowerBound) * k)])
                result[j].topKLogProbs = slice(logProbs, rows: r, base: rows.lowerBound, width: k)
            }
        }
        if selection.logits.contains(.sampled) {
            let flat = Int(sampledOffsets[rows.lowerBound])..<Int(sampledOffsets[rows.upperBound])
            let ids = try readIds(CacheLayout.sampledIds, flat)
            let counts = try dataset(CacheLayout.sampledCounts).read(UInt16.self, rows: flat)
            for j in result.indices {
                result[j].sampled = rowsOf(result[j].index).map { row in
                    let r = (Int(sampledOffsets[row]) - flat.lowerBound)..<(Int(sampledOffsets[row + 1]) - flat.lowerBound)
                    return (Array(ids[r]), Array(counts[r]))
                }
            }
        }
    }
}
