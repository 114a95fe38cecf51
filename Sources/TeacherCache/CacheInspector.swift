import Foundation
import HDF5
import ShellWords

/// What `distillery inspect` reports: the tree, each dataset's type, shape, codec and filters,
/// its size on disk, bytes per token, and the compression ratio against raw fp32.
public struct CacheReport: Sendable {
    public struct Entry: Sendable {
        public var path: String
        public var type: String
        public var shape: [Int]
        public var chunkRows: Int?
        public var filters: [String]
        public var codec: String?
        public var maxAbsError: Double?
        public var storedBytes: Int
        /// The same values as float32 (tensor datasets) or as stored (integer datasets), uncompressed.
        public var rawFloat32Bytes: Int
        /// Shard files a virtual dataset's rows come from (merged caches); 0 for stored data.
        public var virtualSources = 0
    }

    public var url: URL
    public var complete: Bool
    public var schemaVersion: Int64
    public var toolVersion: String
    public var created: String
    public var sequences: Int
    public var tokens: Int
    public var provenance: CacheProvenance
    public var spec: CacheSpec
    public var entries: [Entry]
    /// The file's bytes on disk; for a merged cache, with its shard files'.
    public var fileBytes: Int
    /// A shard file: which part of the run it holds.
    public var shard: CacheShard?
    /// A merged cache: its shard files, and whether each is where the merged file expects it.
    public var shards: [(shard: MergedShard, present: Bool)] = []

    /// Reads the structure of `url` (complete or `.partial`) without decoding tensors.
    public static func read(_ url: URL) throws -> CacheReport {
        let (file, root) = try CacheFile.open(url)
        defer { try? file.close() }
        let spec = try CacheProvenance.decode(CacheSpec.self, from: root.stringAttribute(CacheLayout.specAttribute), what: "spec")
        let provenance = try CacheProvenance.decode(CacheProvenance.self, from: root.stringAttribute(CacheLayout.teacherAttribute), what: "teacher")
        let complete = try root.int64Attribute(CacheLayout.completeAttribute) == 1
        let sequences = complete ? Int(try root.int64Attribute(CacheLayout.sequencesAttribute)) : Int(try root.int64Attribute(CacheLayout.committedSequencesAttribute))
        let tokens = complete ? Int(try root.int64Attribute(CacheLayout.tokensAttribute)) : 0
        let shard = try root.hasAttribute(CacheLayout.shardAttribute)
            ? try CacheProvenance.decode(CacheShard.self, from: root.stringAttribute(CacheLayout.shardAttribute), what: "shard") : nil
        let shards = try CacheReader.mergedShards(root, url).map { ($0, FileManager.default.fileExists(atPath: $0.url(relativeTo: url).path)) }
        // Sizes and filters of a virtual dataset are its sources' (shard files opened read-only;
        // inspect reads no data through the virtual datasets, so HDF5 does not hold them open).
        var sourceFiles: [String: H5File] = [:]
        defer { for f in sourceFiles.values { try? f.close() } }
        func source(_ m: H5VirtualSource) -> H5Dataset? {
            let shardURL = MergedShard(file: m.file, index: 0, count: 0, firstSequence: 0, endSequence: 0, tokens: 0).url(relativeTo: url)
            if sourceFiles[m.file] == nil { sourceFiles[m.file] = try? H5File.open(shardURL) }
            return try? sourceFiles[m.file]?.root.dataset(m.dataset)
        }
        var entries: [Entry] = []
        func walk(_ group: H5Group, _ prefix: String) throws {
            for name in try group.childNames.sorted() {
                let path = prefix.isEmpty ? name : prefix + "/" + name
                if try group.kind(of: name) == .group {
                    try walk(try group.group(name), path)
                    continue
                }
                let d = try group.dataset(name)
                let count = d.rows * max(1, d.columns)
                let isTensor = try d.hasAttribute(CacheLayout.codecAttribute)
                let mappings = try d.virtualSources
                let sources = mappings.compactMap(source)
                entries.append(Entry(
                    path: path, type: d.elementType.description, shape: d.rank == 2 ? [d.rows, d.columns] : [d.rows],
                    chunkRows: sources.first?.chunkRows ?? d.chunkRows, filters: (sources.first ?? d).filters.map(\.description),
                    codec: isTensor ? try d.stringAttribute(CacheLayout.codecAttribute) : nil,
                    maxAbsError: isTensor ? try d.doubleAttribute(CacheLayout.maxErrorAttribute) : nil,
                    storedBytes: mappings.isEmpty ? d.storageBytes : sources.reduce(0) { $0 + $1.storageBytes },
                    rawFloat32Bytes: count * (isTensor ? 4 : d.elementType.size), virtualSources: mappings.count))
            }
        }
        try walk(root, "")
        func size(_ url: URL) -> Int { (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0 }
        return CacheReport(url: url, complete: complete, schemaVersion: try root.int64Attribute(CacheLayout.schemaVersionAttribute),
                           toolVersion: try root.stringAttribute(CacheLayout.toolVersionAttribute),
                           created: try root.stringAttribute(CacheLayout.createdAttribute),
                           sequences: sequences, tokens: tokens, provenance: provenance, spec: spec, entries: entries,
                           fileBytes: size(url) + shards.reduce(0) { $0 + size($1.0.url(relativeTo: url)) }, shard: shard, shards: shards)
    }

    /// Components ("hidden", "attention", …) with their stored bytes per token and ratio against raw fp32.
    public var components: [(name: String, storedBytes: Int, rawBytes: Int)] {
        var totals: [String: (Int, Int)] = [:]
        for e in entries {
            let name = String(e.path.split(separator: "/").first ?? "")
            let t = totals[name] ?? (0, 0)
            totals[name] = (t.0 + e.storedBytes, t.1 + e.rawFloat32Bytes)
        }
        return totals.keys.sorted().map { ($0, totals[$0]!.0, totals[$0]!.1) }
    }

    /// Human-readable text for the terminal.
    public func text() -> String {
        func bytes(_ n: Int) -> String {
            let units = ["B", "KiB", "MiB", "GiB", "TiB"]
            var value = Double(n), unit = 0
            while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
            return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
        }
        let t = provenance.teacher
        var lines: [String] = []
        lines.append("\(url.path): \(complete ? "complete" : "INCOMPLETE (interrupted or still being written)"), schema \(schemaVersion), written by distillery \(toolVersion) on \(created)")
        if let shard {
            lines.append("shard \(shard.index)/\(shard.count): sequences \(shard.firstSequence)..<\(shard.endSequence) of \(shard.totalSequences); join the shards with `distillery cache merge`")
        }
        if !shards.isEmpty {
            lines.append("merged cache: virtual datasets over \(shards.count) shard files (paths relative to this file's folder), offsets stored re-based")
            for (s, present) in shards {
                lines.append("  shard \(s.index)/\(s.count): \(s.file) — sequences \(s.firstSequence)..<\(s.endSequence), \(s.tokens) tokens\(present ? "" : "  MISSING")")
            }
        }
        lines.append("teacher: \(t.path) — \(t.layers) layers × \(t.hiddenSize), \(t.heads) heads, vocabulary \(t.vocabularySize), head \(t.head)\(t.classifierLabels > 0 ? " (\(t.classifierLabels) classes)" : "")")
        lines.append("  weights \(t.weightsSHA256)")
        lines.append("  vocabulary \(t.vocabularySHA256)")
        for d in provenance.datasets { lines.append("data: \(d.file) — \(d.rows) rows, \(bytes(d.bytes)), \(d.sha256)") }
        if let check = provenance.precisionCheck { lines += check.lines }
        if let names = provenance.labelNames { lines.append("labels: \(names.joined(separator: ", "))") }
        lines.append("sequences: \(sequences), tokens: \(tokens)\(sequences > 0 && tokens > 0 ? String(format: " (%.1f per sequence)", Double(tokens) / Double(sequences)) : "")")
        lines.append("spec: \(CacheProvenance.json(spec))")
        lines.append("")
        lines.append("dataset".padding(toLength: 34, withPad: " ", startingAt: 0) + "type      shape            codec  max error   stored     bytes/token  ratio  filters")
        // A column at least `width` wide and always followed by a space, so that a long value
        // (a 1005.63× ratio) never runs into the next column.
        func column(_ text: String, _ width: Int) -> String {
            text.count >= width ? text + " " : text.padding(toLength: width, withPad: " ", startingAt: 0)
        }
        for e in entries {
            let shape = "(" + e.shape.map(String.init).joined(separator: ", ") + ")"
            let perToken = tokens > 0 ? String(format: "%.1f", Double(e.storedBytes) / Double(tokens)) : "-"
            let ratio = e.storedBytes > 0 ? String(format: "%.2f×", Double(e.rawFloat32Bytes) / Double(e.storedBytes)) : "-"
            lines.append(column("/" + e.path, 34) + column(e.type, 10) + column(shape, 17) + column(e.codec ?? "-", 7)
                         + column(e.maxAbsError.map { String(format: "%.2e", $0) } ?? "-", 12) + column(bytes(e.storedBytes), 11)
                         + column(perToken, 13) + column(ratio, 7)
                         + e.filters.joined(separator: " → ") + (e.virtualSources > 0 ? " (virtual, \(e.virtualSources) shards)" : ""))
        }
        lines.append("")
        lines.append("per component (stored bytes per token, ratio against raw fp32):")
        for c in components {
            let perToken = tokens > 0 ? String(format: "%.1f B/token", Double(c.storedBytes) / Double(tokens)) : "-"
            lines.append("  \(c.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(bytes(c.storedBytes).padding(toLength: 11, withPad: " ", startingAt: 0)) \(perToken.padding(toLength: 16, withPad: " ", startingAt: 0)) \(c.storedBytes > 0 ? String(format: "%.2f×", Double(c.rawBytes) / Double(c.storedBytes)) : "-")")
        }
        let raw = entries.reduce(0) { $0 + $1.rawFloat32Bytes }
        lines.append("file\(shards.isEmpty ? "" : "s (merged file and shards)"): \(bytes(fileBytes)) on disk; \(bytes(raw)) as raw fp32: \(fileBytes > 0 ? String(format: "%.2f×", Double(raw) / Double(fileBytes)) : "-")")
        if let command = h5dumpCommand {
            if let folder = H5Plugins.zstdFolder() {
                lines.append("read with h5dump (zstd plugin in \(folder)): \(command)")
            } else {
                lines.append("h5dump cannot decompress these datasets here: no \(H5Plugins.zstdLibrary) in HDF5's plugin folder (\(H5Plugins.searchPath().joined(separator: ":"))); `make build` installs it there. Then: \(command)")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// An h5dump command that prints the first values (the first row, at most 8 columns) of a
    /// hidden-state dataset (else the first tensor), ready to paste into a shell; nil without datasets.
    public var h5dumpCommand: String? {
        guard let entry = entries.last(where: { $0.path.hasPrefix("hidden/") }) ?? entries.first(where: { $0.codec != nil }) ?? entries.first else { return nil }
        let selection = entry.shape.count == 2 ? "-s 0,0 -c 1,\(max(1, min(8, entry.shape[1])))" : "-s 0 -c \(max(1, min(8, entry.shape.first ?? 1)))"
        return "h5dump -d /\(entry.path) \(selection) \(ShellWords.quoted(url.path))"
    }
}
