import Foundation
import HDF5

public struct CacheMergeSummary: Sendable {
    public var output: URL
    public var shards: [MergedShard]
    public var sequences: Int
    public var tokens: Int
    public var virtualDatasets: Int
}

/// `distillery cache merge`: one cache over the shard files of a `--shard I/N` run, without
/// copying their data. Every dataset is an HDF5 virtual dataset (VDS) whose rows come from the
/// shards in order, except the offsets arrays: each shard's start at 0, so they are stored in
/// the merged file re-based (S + 1 int64 values, small). Readers, `inspect` and `verify` take
/// the result like any cache.
///
/// Shard files are named relative to the merged file's folder, where HDF5 looks for them, so
/// the folder can be moved as a whole. A shard that goes missing would read as fill values
/// (NaN, -1, or the largest unsigned value): readers refuse a merged cache with a missing shard
/// and `verify` names it.
public enum CacheMerger {
    /// Checks that `shards` are the complete shards of one run (same teacher, vocabulary,
    /// data, spec and schema version; every sequence in exactly one shard), then writes `output`.
    public static func merge(_ shards: [URL], into output: URL, overwrite: Bool = false) throws -> CacheMergeSummary {
        guard !shards.isEmpty else { throw CacheError.io("no shard files given") }
        let manager = FileManager.default
        if manager.fileExists(atPath: output.path) && !overwrite {
            throw CacheError.io("\(output.path) already exists; pass --overwrite to replace it")
        }
        let parts = try shards.map(ShardFile.init).sorted { ($0.shard.firstSequence, $0.shard.index) < ($1.shard.firstSequence, $1.shard.index) }
        try checkAgree(parts)
        try checkCoverage(parts)

        // Written as OUT.partial and renamed when complete, like a cache.
        let partial = CacheWriter.partialURL(for: output)
        let file = try H5File.create(partial, overwrite: true)
        do {
            let summary = try write(parts, to: file, output: output)
            if Self.killBeforeRename { _exit(137) }
            try file.close()
            if manager.fileExists(atPath: output.path) { try manager.removeItem(at: output) }
            try manager.moveItem(at: partial, to: output)
            return summary
        } catch {
            try? file.close()
            try? manager.removeItem(at: partial)
            throw error
        }
    }

    /// Fault injection for the kill test: the process dies like `kill -9` once every virtual
    /// dataset is written, before the file is closed and renamed.
    private static let killBeforeRename = ProcessInfo.processInfo.environment["DISTILLERY_FAULT_KILL_DURING_MERGE"] != nil

    // MARK: checks

    /// A shard file's root attributes, read and closed again.
    struct ShardFile {
        var url: URL
        var schemaVersion: Int64
        var specJSON: String, teacherJSON: String, datasetsJSON: String, head: String
        var labelNamesJSON: String?
        var spec: CacheSpec
        var provenance: CacheProvenance
        var shard: CacheShard
        var sequences: Int, tokens: Int

        init(_ url: URL) throws {
            self.url = url
            let manager = FileManager.default
            if url.lastPathComponent.hasSuffix(".partial") {
                throw CacheError.incomplete("\(url.path) is an unfinished shard; finish it with `distillery cache … --shard I/N --resume` first")
            }
            guard manager.fileExists(atPath: url.path) else { throw CacheFile.missing(url, what: "shard file") }
            let (file, root) = try CacheFile.open(url)
            defer { try? file.close() }
            guard try root.int64Attribute(CacheLayout.completeAttribute) == 1 else {
                throw CacheError.incomplete("\(url.path) is not marked complete (an interrupted shard); finish it with --resume")
            }
            if try root.hasAttribute(CacheLayout.mergedShardsAttribute) {
                throw CacheError.incompatible("\(url.path) is itself a merged cache; merge the shard files it lists instead")
            }
            guard try root.hasAttribute(CacheLayout.shardAttribute) else {
                throw CacheError.incompatible("\(url.path) is not a shard (no '\(CacheLayout.shardAttribute)' attribute: it was made without --shard)")
            }
            schemaVersion = try root.int64Attribute(CacheLayout.schemaVersionAttribute)
            specJSON = try root.stringAttribute(CacheLayout.specAttribute)
            teacherJSON = try root.stringAttribute(CacheLayout.teacherAttribute)
            datasetsJSON = try root.stringAttribute(CacheLayout.datasetsAttribute)
            head = try root.stringAttribute(CacheLayout.headAttribute)
            labelNamesJSON = try root.hasAttribute(CacheLayout.labelNamesAttribute) ? try root.stringAttribute(CacheLayout.labelNamesAttribute) : nil
            spec = try CacheProvenance.decode(CacheSpec.self, from: specJSON, what: "spec")
            provenance = try CacheProvenance.decode(CacheProvenance.self, from: teacherJSON, what: "teacher")
            shard = try CacheProvenance.decode(CacheShard.self, from: root.stringAttribute(CacheLayout.shardAttribute), what: "shard")
            sequences = Int(try root.int64Attribute(CacheLayout.sequencesAttribute))
            tokens = Int(try root.int64Attribute(CacheLayout.tokensAttribute))
            guard sequences == shard.sequences.count else {
                throw CacheError.corrupt("\(url.path) holds \(sequences) sequences but its shard record says \(shard.firstSequence)..<\(shard.endSequence)")
            }
        }
    }

    /// Everything that decides the values must be the same in every shard. The teacher's path
    /// may differ (shards made on different machines); its files' hashes may not.
    static func checkAgree(_ parts: [ShardFile]) throws {
        let first = parts[0]
        for other in parts.dropFirst() {
            let pair = "\(first.url.path) and \(other.url.path)"
            if other.schemaVersion != first.schemaVersion {
                throw CacheError.incompatible("\(pair) have different cache schema versions (\(first.schemaVersion) and \(other.schemaVersion))")
            }
            let (a, b) = (first.provenance.teacher, other.provenance.teacher)
            if a.weightsSHA256 != b.weightsSHA256 {
                throw CacheError.incompatible("\(pair) were made with different teachers (weights \(a.weightsSHA256.prefix(12))… and \(b.weightsSHA256.prefix(12))…)")
            }
            if a.vocabularySHA256 != b.vocabularySHA256 || a.vocabularySize != b.vocabularySize {
                throw CacheError.incompatible("\(pair) were made with different vocabularies (tokenizer files \(a.vocabularySHA256.prefix(12))… and \(b.vocabularySHA256.prefix(12))…)")
            }
            var (ta, tb) = (a, b)
            ta.path = ""; tb.path = ""
            if ta != tb || other.head != first.head {
                throw CacheError.incompatible("\(pair) were made with different teacher configurations (config.json or head)")
            }
            if other.spec != first.spec {
                throw CacheError.incompatible("\(pair) have different cache specs (\(specDifferences(first.specJSON, other.specJSON).joined(separator: ", ")))")
            }
            if other.provenance.datasets.map(\.sha256) != first.provenance.datasets.map(\.sha256) {
                throw CacheError.incompatible("\(pair) were made from different data (content hashes differ)")
            }
            if other.labelNamesJSON != first.labelNamesJSON {
                throw CacheError.incompatible("\(pair) have different label names")
            }
            if other.shard.count != first.shard.count || other.shard.totalSequences != first.shard.totalSequences {
                throw CacheError.incompatible("\(pair) belong to different splits (shard \(first.shard.index)/\(first.shard.count) of \(first.shard.totalSequences) sequences and \(other.shard.index)/\(other.shard.count) of \(other.shard.totalSequences))")
            }
        }
    }

    /// The spec keys whose values differ.
    static func specDifferences(_ a: String, _ b: String) -> [String] {
        func object(_ json: String) -> [String: Any] { (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] ?? [:] }
        let (x, y) = (object(a), object(b))
        let keys = Set(x.keys).union(y.keys).sorted().filter { key in
            !((x[key] as? NSObject)?.isEqual(y[key]) ?? (y[key] == nil))
        }
        return keys.isEmpty ? ["spec"] : keys
    }

    /// Shards sorted by first sequence must tile 0..<total with no overlap and no gap.
    static func checkCoverage(_ parts: [ShardFile]) throws {
        let total = parts[0].shard.totalSequences
        var end = 0, previous: ShardFile?
        for part in parts {
            let s = part.shard
            let name = "\(part.url.path) (shard \(s.index)/\(s.count), sequences \(s.firstSequence)..<\(s.endSequence))"
            if s.firstSequence < end, let previous {
                throw CacheError.incompatible("\(name) overlaps \(previous.url.path) (sequences \(previous.shard.firstSequence)..<\(previous.shard.endSequence))")
            }
            if s.firstSequence > end {
                let after = previous.map { " between \($0.url.path) and \(part.url.path)" } ?? " before \(part.url.path)"
                throw CacheError.incompatible("gap: sequences \(end)..<\(s.firstSequence) are in no shard\(after) (a shard file missing from the list?)")
            }
            end = s.endSequence
            previous = part
        }
        if end < total {
            throw CacheError.incompatible("gap: sequences \(end)..<\(total) are in no shard after \(parts.last!.url.path) (a shard file missing from the list?)")
        }
    }

    // MARK: writing

    static func write(_ parts: [ShardFile], to file: H5File, output: URL) throws -> CacheMergeSummary {
        let first = parts[0]
        let root = try file.root
        let merged = parts.map { part in
            MergedShard(file: relativePath(of: part.url, from: output.deletingLastPathComponent()), index: part.shard.index,
                        count: part.shard.count, firstSequence: part.shard.firstSequence, endSequence: part.shard.endSequence, tokens: part.tokens)
        }
        let sequences = parts.reduce(0) { $0 + $1.sequences }, tokens = parts.reduce(0) { $0 + $1.tokens }
        try root.setAttribute(CacheLayout.schemaVersionAttribute, first.schemaVersion)
        try root.setAttribute(CacheLayout.toolVersionAttribute, DistilleryVersion.current)
        try root.setAttribute(CacheLayout.createdAttribute, ISO8601DateFormatter().string(from: Date()))
        try root.setAttribute(CacheLayout.completeAttribute, Int64(0))
        try root.setAttribute(CacheLayout.specAttribute, first.specJSON)
        try root.setAttribute(CacheLayout.teacherAttribute, first.teacherJSON)
        try root.setAttribute(CacheLayout.datasetsAttribute, first.datasetsJSON)
        try root.setAttribute(CacheLayout.headAttribute, first.head)
        if let names = first.labelNamesJSON { try root.setAttribute(CacheLayout.labelNamesAttribute, names) }
        try root.setAttribute(CacheLayout.mergedShardsAttribute, CacheProvenance.json(merged))

        let files = try parts.map { part -> H5File in
            do { return try H5File.open(part.url) } catch { throw CacheError.notACache("\(part.url.path): \(error)") }
        }
        defer { for f in files { try? f.close() } }
        var virtual = 0
        for planned in CacheLayout.datasets(spec: first.spec, provenance: first.provenance) {
            let sources = try files.map { try $0.root.dataset(planned.path) }
            let reference = sources[0]
            for (part, d) in zip(parts, sources) where d.elementType != reference.elementType || d.columns != reference.columns {
                throw CacheError.corrupt("\(part.url.path): /\(planned.path) is \(d.elementType) × \(d.columns) but \(first.url.path) has \(reference.elementType) × \(reference.columns)")
            }
            let dataset: H5Dataset
            if CacheLayout.offsetDatasets.contains(planned.path) {
                // Each shard's offsets start at 0: shift by where the previous shards ended.
                var values: [Int64] = [0]
                for (part, d) in zip(parts, sources) {
                    let local = try d.read(Int64.self, rows: 0..<d.rows)
                    guard local.first == 0 else { throw CacheError.corrupt("\(part.url.path): /\(planned.path) does not start at 0") }
                    let base = values.last!
                    values += local.dropFirst().map { $0 + base }
                }
                dataset = try root.createDataset(planned.path, type: .int64, options: first.spec.datasetOptions(rowBytes: 8))
                try dataset.append(values)
            } else {
                var mappings: [H5VirtualSource] = [], row = 0
                for (m, d) in zip(merged, sources) {
                    mappings.append(H5VirtualSource(file: m.file, dataset: "/" + planned.path, rows: row..<(row + d.rows)))
                    row += d.rows
                }
                dataset = try root.createVirtualDataset(planned.path, type: reference.elementType, columns: reference.rank == 2 ? reference.columns : 0,
                                                        rows: row, sources: mappings)
                virtual += 1
                if try reference.hasAttribute(CacheLayout.codecAttribute) {
                    try dataset.setAttribute(CacheLayout.codecAttribute, try reference.stringAttribute(CacheLayout.codecAttribute))
                    let error = try sources.map { try $0.doubleAttribute(CacheLayout.maxErrorAttribute) }.max() ?? 0
                    try dataset.setAttribute(CacheLayout.maxErrorAttribute, error)
                }
            }
            try dataset.setAttribute(CacheLayout.committedRowsAttribute, Int64(dataset.rows))
        }
        try root.setAttribute(CacheLayout.committedSequencesAttribute, Int64(sequences))
        try root.setAttribute(CacheLayout.sequencesAttribute, Int64(sequences))
        try root.setAttribute(CacheLayout.tokensAttribute, Int64(tokens))
        try root.setAttribute(CacheLayout.completeAttribute, Int64(1))
        return CacheMergeSummary(output: output, shards: merged, sequences: sequences, tokens: tokens, virtualDatasets: virtual)
    }

    /// `file` as seen from `folder` ("shards/a.h5", "../a.h5"), symbolic links resolved.
    static func relativePath(of file: URL, from folder: URL) -> String {
        let a = folder.standardizedFileURL.resolvingSymlinksInPath().pathComponents
        let b = file.standardizedFileURL.resolvingSymlinksInPath().pathComponents
        var common = 0
        while common < min(a.count, b.count - 1) && a[common] == b[common] { common += 1 }
        return (Array(repeating: "..", count: a.count - common) + b[common...]).joined(separator: "/")
    }
}
