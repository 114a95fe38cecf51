import Foundation
import HDF5
import Kernels

/// Writes a cache file: datasets laid out by `CacheLayout`, rows appended batch by batch through
/// `RowStream`s, commits that make everything so far durable, and completion by rename.
///
/// The file is written as `<out>.partial` and renamed to `<out>` only after the completion flag
/// is set, so a cache being written is never mistaken for a finished one. A lock file next to it
/// keeps a second writer away.
final class CacheWriter {
    let finalURL: URL
    let partialURL: URL
    let spec: CacheSpec
    let provenance: CacheProvenance
    /// Set when writing one shard of a larger run; sequence numbers in seeds are global.
    let shard: CacheShard?
    private let file: H5File
    private let lock: FileLock
    private let idType: H5ElementType
    private var streams: [String: RowStream] = [:]
    private var maxErrors: [String: Float] = [:]
    private(set) var sequences = 0
    private(set) var tokens = 0
    private var maskedRows = 0, attentionValues = 0, sampledValues = 0
    /// Bytes written so far per string column (example ids, texts, pairs), by its offsets path.
    private var stringBytes: [String: Int] = [:]
    private var sinceCommit = 0
    private var commitNumber = 0
    private lazy var tensorCodecs: [String: TensorCodec] = Dictionary(tensorPaths.map { ($0.path, $0.codec) }, uniquingKeysWith: { a, _ in a })

    static func partialURL(for url: URL) -> URL { url.deletingLastPathComponent().appendingPathComponent(url.lastPathComponent + ".partial") }

    /// A new cache. Fails if `url` exists (unless `overwrite`) or a partial one is there (resume or remove it).
    init(creating url: URL, spec: CacheSpec, provenance: CacheProvenance, shard: CacheShard? = nil, overwrite: Bool) throws {
        finalURL = url
        partialURL = Self.partialURL(for: url)
        self.spec = spec
        self.provenance = provenance
        self.shard = shard
        idType = CacheLayout.idType(provenance)
        lock = try FileLock(for: partialURL)
        let manager = FileManager.default
        if manager.fileExists(atPath: url.path) && !overwrite {
            throw CacheError.io("\(url.path) already exists; pass --overwrite to replace it")
        }
        if manager.fileExists(atPath: partialURL.path) {
            throw CacheError.io("\(partialURL.path) is an interrupted cache; pass --resume to continue it, or delete it to start again")
        }
        file = try H5File.create(partialURL)
        try createLayout()
        try commit()
    }

    /// Reopens `<url>.partial` and rolls it back to its last commit, after checking that the
    /// spec, teacher and data are the ones it was started with.
    init(resuming url: URL, spec: CacheSpec, provenance: CacheProvenance, shard: CacheShard? = nil) throws {
        finalURL = url
        partialURL = Self.partialURL(for: url)
        self.spec = spec
        self.provenance = provenance
        self.shard = shard
        idType = CacheLayout.idType(provenance)
        lock = try FileLock(for: partialURL)
        guard FileManager.default.fileExists(atPath: partialURL.path) else {
            throw CacheError.io("nothing to resume: \(partialURL.path) does not exist")
        }
        // Checked through a read-only open first, so that a refused resume leaves the file untouched
        // (a writable open and close already rolls it back to its last commit).
        let probe = try H5File.open(partialURL, recoveringFromCrash: true)
        do { try Self.checkSameRun(try probe.root, spec: spec, provenance: provenance, shard: shard, partialURL: partialURL) } catch {
            try? probe.close()
            throw error
        }
        try probe.close()
        file = try H5File.open(partialURL, writable: true, recoveringFromCrash: true)
        let root = try file.root
        sequences = Int(try root.int64Attribute(CacheLayout.committedSequencesAttribute))
        try openLayoutForResume()
    }

    /// A partial file continues only with the spec, teacher and data it was started with.
    private static func checkSameRun(_ root: H5Group, spec: CacheSpec, provenance: CacheProvenance, shard: CacheShard?, partialURL: URL) throws {
        let storedSpec = try CacheProvenance.decode(CacheSpec.self, from: root.stringAttribute(CacheLayout.specAttribute), what: "spec")
        guard storedSpec == spec else {
            throw CacheError.incompatible("\(partialURL.path) was started with another cache spec; resume with the same options")
        }
        let stored = try CacheProvenance.decode(CacheProvenance.self, from: root.stringAttribute(CacheLayout.teacherAttribute), what: "teacher")
        guard stored.teacher.weightsSHA256 == provenance.teacher.weightsSHA256,
              stored.teacher.vocabularySHA256 == provenance.teacher.vocabularySHA256 else {
            throw CacheError.incompatible("\(partialURL.path) was started with another teacher (weights or vocabulary differ)")
        }
        guard stored.datasets.map(\.sha256) == provenance.datasets.map(\.sha256) else {
            let changed = zip(stored.datasets, provenance.datasets).first { $0.sha256 != $1.sha256 }.map { " (\($0.1.file) changed since)" } ?? ""
            throw CacheError.incompatible("\(partialURL.path) was started with other data (content hashes differ\(changed)); resume with the same files, or delete it to start again")
        }
        let storedShard = try root.hasAttribute(CacheLayout.shardAttribute)
            ? try CacheProvenance.decode(CacheShard.self, from: root.stringAttribute(CacheLayout.shardAttribute), what: "shard") : nil
        guard storedShard == shard else {
            throw CacheError.incompatible("\(partialURL.path) was started as \(storedShard.map { "shard \($0.index)/\($0.count)" } ?? "a whole cache"); resume it with the same --shard")
        }
    }

    // MARK: layout

    var isMaskedLM: Bool { CacheLayout.isMaskedLM(spec: spec, provenance: provenance) }
    private var tensorPaths: [CacheLayout.TensorDataset] { CacheLayout.tensorDatasets(spec: spec, provenance: provenance) }
    private func datasetPlan() -> [CacheLayout.PlannedDataset] { CacheLayout.datasets(spec: spec, provenance: provenance) }

    private func createLayout() throws {
        let root = try file.root
        let now = ISO8601DateFormatter().string(from: Date())
        try root.setAttribute(CacheLayout.schemaVersionAttribute, CacheLayout.schemaVersion)
        try root.setAttribute(CacheLayout.toolVersionAttribute, DistilleryVersion.current)
        try root.setAttribute(CacheLayout.createdAttribute, now)
        try root.setAttribute(CacheLayout.completeAttribute, Int64(0))
        try root.setAttribute(CacheLayout.specAttribute, CacheProvenance.json(spec))
        try root.setAttribute(CacheLayout.teacherAttribute, CacheProvenance.json(provenance))
        try root.setAttribute(CacheLayout.datasetsAttribute, CacheProvenance.json(provenance.datasets))
        try root.setAttribute(CacheLayout.headAttribute, isMaskedLM ? "masked-lm" : provenance.teacher.head)
        if let names = provenance.labelNames { try root.setAttribute(CacheLayout.labelNamesAttribute, CacheProvenance.json(names)) }
        if let shard { try root.setAttribute(CacheLayout.shardAttribute, CacheProvenance.json(shard)) }
        for (path, type, columns) in datasetPlan().map({ ($0.path, $0.type, $0.columns) }) {
            let rowBytes = max(1, columns) * type.size
            let dataset = try root.createDataset(path, type: type, columns: columns, options: spec.datasetOptions(rowBytes: rowBytes))
            if let codec = tensorCodecs[path] {
                try dataset.setAttribute(CacheLayout.codecAttribute, codec.rawValue)
                try dataset.setAttribute(CacheLayout.maxErrorAttribute, 0.0)
                maxErrors[path] = 0
            }
            streams[path] = try RowStream(dataset)
        }
        // Offsets start at 0.
        for path in [CacheLayout.offsets, CacheLayout.maskOffsets, CacheLayout.attentionOffsets, CacheLayout.sampledOffsets]
                     + CacheLayout.stringColumns(provenance).map(\.offsets) {
            try streams[path]?.append([Int64(0)])
        }
    }

    private func openLayoutForResume() throws {
        let root = try file.root
        // Roll every dataset back to the rows it had at the last commit, then read the offsets'
        // last entries to know where each ragged axis stood.
        commitNumber = Int(try root.int64Attribute(CacheLayout.commitNumberAttribute))
        let tails = try root.group("\(CacheLayout.commitGroup)/\(commitNumber)")
        for path in datasetPlan().map(\.path) {
            let dataset = try root.dataset(path)
            if try dataset.hasAttribute(CacheLayout.maxErrorAttribute) {
                maxErrors[path] = Float(try dataset.doubleAttribute(CacheLayout.maxErrorAttribute))
            }
            let committed = Int(try dataset.int64Attribute(CacheLayout.committedRowsAttribute))
            let name = CacheLayout.tailName(path)
            let tail = try tails.hasChild(name) ? try tails.dataset(name).read(UInt8.self, rows: 0..<(try tails.dataset(name).rows)) : []
            streams[path] = try RowStream(dataset, committedRows: committed, tail: tail)
        }
        func last(_ path: String) throws -> Int { Int(try streams[path]?.lastInt64() ?? 0) }
        guard streams[CacheLayout.offsets]!.rows == sequences + 1 else {
            throw CacheError.corrupt("\(partialURL.path): offsets hold \(streams[CacheLayout.offsets]!.rows - 1) sequences but the last commit recorded \(sequences)")
        }
        tokens = try last(CacheLayout.offsets)
        for column in CacheLayout.stringColumns(provenance) { stringBytes[column.offsets] = try last(column.offsets) }
        maskedRows = try last(CacheLayout.maskOffsets)
        attentionValues = try last(CacheLayout.attentionOffsets)
        sampledValues = try last(CacheLayout.sampledOffsets)
    }

    // MARK: writing

    /// Appends one string per sequence to a string column (bytes and offsets).
    private func appendStrings(_ strings: [String], to column: CacheLayout.StringColumn) throws {
        var bytes: [UInt8] = [], offsets: [Int64] = []
        var end = stringBytes[column.offsets, default: 0]
        for string in strings {
            bytes += Array(string.utf8)
            end += string.utf8.count
            offsets.append(Int64(end))
        }
        stringBytes[column.offsets] = end
        try streams[column.bytes]!.append(bytes)
        try streams[column.offsets]!.append(offsets)
    }

    /// Appends one batch of teacher outputs: its tensors and full chunks are encoded on
    /// `Threads.count` cores, the chunks written in order.
    func write(_ batch: TeacherOutputs) throws {
        let t = provenance.teacher
        var offsets: [Int64] = [], ids: [Int32] = [], types: [UInt8] = []
        var exampleIndex: [Int64] = [], maskOffsets: [Int64] = [], positions: [Int32] = []
        var originals: [Int32] = [], attentionOffsets: [Int64] = [], intLabels: [Int64] = [], floatLabels: [Float] = []
        for s in batch.sequences {
            tokens += s.length
            offsets.append(Int64(tokens))
            ids += s.inputIds
            types += s.tokenTypeIds.map { UInt8(truncatingIfNeeded: $0) }
            exampleIndex.append(Int64(s.exampleIndex))
            if let plan = s.masking {
                positions += plan.positions
                originals += plan.originalIds
                maskedRows += plan.positions.count
            }
            maskOffsets.append(Int64(maskedRows))
            attentionValues += t.heads * s.length * s.length
            attentionOffsets.append(Int64(attentionValues))
            switch s.label {
            case .classIndex(let index)?: intLabels.append(index)
            case .regression(let value)?: floatLabels.append(value)
            case nil: break
            }
        }
        try streams[CacheLayout.offsets]!.append(offsets)
        try appendIds(ids, to: CacheLayout.inputIds)
        try streams[CacheLayout.tokenTypeIds]!.append(types)
        try streams[CacheLayout.exampleIndex]!.append(exampleIndex)
        for column in CacheLayout.stringColumns(provenance) {
            try appendStrings(batch.sequences.map { s in
                switch column {
                case CacheLayout.texts: return s.text
                case CacheLayout.textPairs: return s.textPair ?? ""
                default: return s.exampleId
                }
            }, to: column)
        }
        if let labels = streams[CacheLayout.labels] {
            if labels.codec.elementType == .float32 { try labels.append(floatLabels) } else { try labels.append(intLabels) }
        }
        if isMaskedLM {
            try streams[CacheLayout.maskOffsets]!.append(maskOffsets)
            try streams[CacheLayout.maskPositions]!.append(positions)
            try appendIds(originals, to: CacheLayout.maskOriginalIds)
        }
        var tensors: [TensorRows] = []
        for (i, l) in spec.hiddenLayers.enumerated() { tensors.append(TensorRows(CacheLayout.hidden(l), batch.hidden[i][...], width: t.hiddenSize)) }
        for (i, l) in spec.relationLayers.enumerated() { tensors.append(TensorRows(CacheLayout.relations(l), batch.relations[i][...], width: 3 * t.hiddenSize)) }
        if !spec.attentionLayers.isEmpty {
            try streams[CacheLayout.attentionOffsets]!.append(attentionOffsets)
            for (i, l) in spec.attentionLayers.enumerated() { tensors += attentionRows(batch.attention[i], sequences: batch.sequences, path: CacheLayout.attention(l)) }
        }
        try appendTensors(tensors)
        try appendLogits(batch)
        try writeReadyChunks()
        sequences += batch.sequences.count
        sinceCommit += batch.sequences.count
        if let limit = Self.killAfterCommits, commitsDuringWrites >= limit { _exit(137) }
        if sinceCommit >= spec.commitEvery { try commit(); commitsDuringWrites += 1 }
    }

    /// Fault injection for the resume tests: the process dies like `kill -9` on the first batch
    /// written after this many commits (so uncommitted chunks are left on disk).
    private static let killAfterCommits = ProcessInfo.processInfo.environment["DISTILLERY_FAULT_KILL_AFTER_COMMITS"].flatMap(Int.init)
    private var commitsDuringWrites = 0

    private func appendIds(_ ids: [Int32], to path: String) throws {
        if idType == .uint16 { try streams[path]!.append(ids.map { UInt16(truncatingIfNeeded: $0) }) } else { try streams[path]!.append(ids) }
    }

    /// Rows of one tensor for one dataset.
    private struct TensorRows {
        let path: String
        let values: ArraySlice<Float>
        let width: Int
        init(_ path: String, _ values: ArraySlice<Float>, width: Int) { self.path = path; self.values = values; self.width = width }
    }

    /// Encodes the tensors on all cores, then appends them in order. A large tensor is encoded in
    /// blocks of whole rows (about 256 KiB of Floats each), so that one tensor alone (a layer, the
    /// full logits) still spreads over the cores; every codec encodes row by row.
    private func appendTensors(_ whole: [TensorRows]) throws {
        let tensors = whole.flatMap { tensor in
            let rows = tensor.values.count / tensor.width, blockRows = max(1, (1 << 16) / tensor.width)
            return stride(from: 0, to: max(rows, 1), by: blockRows).map { first in
                let start = tensor.values.startIndex + first * tensor.width
                return TensorRows(tensor.path, tensor.values[start..<min(start + blockRows * tensor.width, tensor.values.endIndex)], width: tensor.width)
            }
        }
        var encoded = [EncodedRows?](repeating: nil, count: tensors.count)
        let codecs = tensors.map { tensorCodecs[$0.path]! }
        encoded.withUnsafeMutableBufferPointer { out in
            parallelForEach(tensors.count) { i in
                out[i] = tensors[i].values.withUnsafeBufferPointer { RowCodec.encode($0, width: tensors[i].width, codec: codecs[i]) }
            }
        }
        for (i, tensor) in tensors.enumerated() {
            let rows = encoded[i]!
            try rows.bytes.withUnsafeBytes { try streams[tensor.path]!.append($0) }
            if codecs[i] == .int8 { try streams[CacheLayout.scales(of: tensor.path)]!.append(rows.scales) }
            maxErrors[tensor.path] = max(maxErrors[tensor.path] ?? 0, rows.maxAbsError)
        }
    }

    private func appendTensor(_ values: [Float], width: Int, path: String) throws {
        try appendTensors([TensorRows(path, values[...], width: width)])
    }

    /// Attention rows have the sequence's own width n, so each sequence is encoded on its own
    /// (int8 scales are per query row of each head).
    private func attentionRows(_ values: [Float], sequences: [SequenceRecord], path: String) -> [TensorRows] {
        var start = 0
        return sequences.map { s in
            let count = provenance.teacher.heads * s.length * s.length
            defer { start += count }
            return TensorRows(path, values[start..<(start + count)], width: s.length)
        }
    }

    /// Compresses the full chunks every stream accepted, on all cores, and writes them in order.
    /// Runs at the end of each batch, so commits and `finish` find every stream's `ready` empty.
    private func writeReadyChunks() throws {
        let waiting = streams.keys.sorted().compactMap { streams[$0]!.ready.isEmpty ? nil : streams[$0] }  // a fixed order of writes
        let jobs = waiting.enumerated().flatMap { s, stream in stream.ready.indices.map { (s, $0) } }
        var encoded = [Result<H5EncodedChunk, Error>?](repeating: nil, count: jobs.count)
        encoded.withUnsafeMutableBufferPointer { out in
            parallelForEach(jobs.count) { j in
                let stream = waiting[jobs[j].0]
                out[j] = Result { try stream.ready[jobs[j].1].withUnsafeBytes { try stream.codec.encode($0) } }
            }
        }
        var next = 0
        for stream in waiting {
            let chunks = try encoded[next..<(next + stream.ready.count)].map { try $0!.get() }
            next += chunks.count
            try stream.write(chunks)
        }
    }

    private func appendLogits(_ batch: TeacherOutputs) throws {
        guard !spec.logits.isEmpty else { return }
        let width = batch.logitWidth, rows = batch.logits.count / max(1, width)
        if let bad = batch.logits.firstIndex(where: { !$0.isFinite }) {
            throw CacheError.nonFinite("logit \(batch.logits[bad]) in output row \(bad / width) of the batch starting at sequence \(sequences)")
        }
        if spec.logits.contains(.full) { try appendTensor(batch.logits, width: width, path: CacheLayout.fullLogits) }
        if spec.logits.contains(.topk) {
            let k = spec.topK
            var ids = [Int32](repeating: 0, count: rows * k), logProbs = [Float](repeating: 0, count: rows * k)
            batch.logits.withUnsafeBufferPointer { all in
                ids.withUnsafeMutableBufferPointer { i in
                    logProbs.withUnsafeMutableBufferPointer { l in SparseLogits.topK(rows: all, width: width, k: k, ids: i, logProbs: l) }
                }
            }
            try appendIds(ids, to: CacheLayout.topKIds)
            try appendTensor(logProbs, width: k, path: CacheLayout.topKLogProbs)
        }
        if spec.logits.contains(.sampled) {
            var sampledIds: [Int32] = [], counts: [UInt16] = [], sampledOffsets: [Int64] = []
            let streams = rowStreams(batch)
            batch.logits.withUnsafeBufferPointer { all in
                for r in 0..<rows {
                    var generator = SeededGenerator(seed: spec.seed, stream: streams[r])
                    let draw = SparseLogits.sample(UnsafeBufferPointer(rebasing: all[(r * width)..<((r + 1) * width)]),
                                                   draws: spec.sampledDraws, temperature: spec.sampledTemperature, generator: &generator)
                    sampledIds += draw.ids
                    counts += draw.counts
                    sampledValues += draw.ids.count
                    sampledOffsets.append(Int64(sampledValues))
                }
            }
            try self.streams[CacheLayout.sampledOffsets]!.append(sampledOffsets)
            try appendIds(sampledIds, to: CacheLayout.sampledIds)
            try self.streams[CacheLayout.sampledCounts]!.append(counts)
        }
    }

    /// A random stream per output row that depends only on the sequence (its number in the
    /// whole run, shards included) and position, so a resumed, re-batched or sharded run draws
    /// the same samples.
    private func rowStreams(_ batch: TeacherOutputs) -> [UInt64] {
        var result: [UInt64] = []
        for (i, s) in batch.sequences.enumerated() {
            let sequence = UInt64((shard?.firstSequence ?? 0) + sequences + i)
            if let plan = s.masking {
                result += plan.positions.map { sequence << 16 | UInt64($0) }
            } else {
                result.append(sequence << 16)
            }
        }
        return result
    }

    // MARK: commit and finish

    /// Makes everything written so far durable and records the position to resume from:
    /// full chunks are already in the datasets; unfinished ones go into a new tail group, and
    /// only after the flush is the previous commit's tail group dropped.
    func commit() throws {
        let root = try file.root
        commitNumber += 1
        let tails = try root.createGroup("\(CacheLayout.commitGroup)/\(commitNumber)")
        for (path, stream) in streams {
            let tail = stream.tail
            if !tail.isEmpty {
                let dataset = try tails.createDataset(CacheLayout.tailName(path), type: .uint8,
                                                      options: H5DatasetOptions(chunkRows: tail.count, compression: .none, shuffle: false, checksum: true))
                try dataset.append(tail)
            }
            try stream.dataset.setAttribute(CacheLayout.committedRowsAttribute, Int64(stream.rows))
            if let error = maxErrors[path] { try stream.dataset.setAttribute(CacheLayout.maxErrorAttribute, Double(error)) }
        }
        try root.setAttribute(CacheLayout.committedSequencesAttribute, Int64(sequences))
        try root.setAttribute(CacheLayout.commitNumberAttribute, Int64(commitNumber))
        try file.flush()
        if commitNumber > 1 { try root.group(CacheLayout.commitGroup).removeChild(String(commitNumber - 1)) }
        sinceCommit = 0
    }

    /// Writes the last chunks, marks the file complete and renames it to its final name.
    func finish() throws {
        let root = try file.root
        for (path, stream) in streams {
            try stream.finish()
            try stream.dataset.setAttribute(CacheLayout.committedRowsAttribute, Int64(stream.rows))
            if let error = maxErrors[path] { try stream.dataset.setAttribute(CacheLayout.maxErrorAttribute, Double(error)) }
        }
        try root.removeChild(CacheLayout.commitGroup)
        try root.setAttribute(CacheLayout.committedSequencesAttribute, Int64(sequences))
        try root.setAttribute(CacheLayout.sequencesAttribute, Int64(sequences))
        try root.setAttribute(CacheLayout.tokensAttribute, Int64(tokens))
        try root.setAttribute(CacheLayout.completeAttribute, Int64(1))
        try file.close()
        let manager = FileManager.default
        if manager.fileExists(atPath: finalURL.path) { try manager.removeItem(at: finalURL) }
        do { try manager.moveItem(at: partialURL, to: finalURL) } catch {
            throw CacheError.io("could not rename \(partialURL.path) to \(finalURL.path): \(error.localizedDescription)")
        }
        lock.release()
    }

    /// Closes without completing (after an error): the partial file stays for --resume.
    func abandon() {
        try? file.close()
        lock.release()
    }
}

/// The version written into caches and printed by `--version`.
public enum DistilleryVersion {
    public static let current = "0.1.0"
}
