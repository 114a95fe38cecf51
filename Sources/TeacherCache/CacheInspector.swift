import Foundation
import HDF5

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
    public var fileBytes: Int

    /// Reads the structure of `url` (complete or `.partial`) without decoding tensors.
    public static func read(_ url: URL) throws -> CacheReport {
        let file: H5File
        do { file = try H5File.open(url) } catch { throw CacheError.notACache("\(url.path): \(error)") }
        defer { try? file.close() }
        let root = try file.root
        guard try root.hasAttribute(CacheLayout.schemaVersionAttribute) else {
            throw CacheError.notACache("\(url.path) is an HDF5 file without the '\(CacheLayout.schemaVersionAttribute)' attribute")
        }
        let spec = try CacheProvenance.decode(CacheSpec.self, from: root.stringAttribute(CacheLayout.specAttribute), what: "spec")
        let provenance = try CacheProvenance.decode(CacheProvenance.self, from: root.stringAttribute(CacheLayout.teacherAttribute), what: "teacher")
        let complete = try root.int64Attribute(CacheLayout.completeAttribute) == 1
        let sequences = complete ? Int(try root.int64Attribute(CacheLayout.sequencesAttribute)) : Int(try root.int64Attribute(CacheLayout.committedSequencesAttribute))
        let tokens = complete ? Int(try root.int64Attribute(CacheLayout.tokensAttribute)) : 0
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
                entries.append(Entry(
                    path: path, type: d.elementType.description, shape: d.rank == 2 ? [d.rows, d.columns] : [d.rows],
                    chunkRows: d.chunkRows, filters: d.filters.map(\.description),
                    codec: isTensor ? try d.stringAttribute(CacheLayout.codecAttribute) : nil,
                    maxAbsError: isTensor ? try d.doubleAttribute(CacheLayout.maxErrorAttribute) : nil,
                    storedBytes: d.storageBytes, rawFloat32Bytes: count * (isTensor ? 4 : d.elementType.size)))
            }
        }
        try walk(root, "")
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        return CacheReport(url: url, complete: complete, schemaVersion: try root.int64Attribute(CacheLayout.schemaVersionAttribute),
                           toolVersion: try root.stringAttribute(CacheLayout.toolVersionAttribute),
                           created: try root.stringAttribute(CacheLayout.createdAttribute),
                           sequences: sequences, tokens: tokens, provenance: provenance, spec: spec, entries: entries, fileBytes: size)
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
        lines.append("teacher: \(t.path) — \(t.layers) layers × \(t.hiddenSize), \(t.heads) heads, vocabulary \(t.vocabularySize), head \(t.head)\(t.classifierLabels > 0 ? " (\(t.classifierLabels) classes)" : "")")
        lines.append("  weights \(t.weightsSHA256)")
        lines.append("  vocabulary \(t.vocabularySHA256)")
        for d in provenance.datasets { lines.append("data: \(d.file) — \(d.rows) rows, \(bytes(d.bytes)), \(d.sha256)") }
        if let names = provenance.labelNames { lines.append("labels: \(names.joined(separator: ", "))") }
        lines.append("sequences: \(sequences), tokens: \(tokens)\(sequences > 0 && tokens > 0 ? String(format: " (%.1f per sequence)", Double(tokens) / Double(sequences)) : "")")
        lines.append("spec: \(CacheProvenance.json(spec))")
        lines.append("")
        lines.append("dataset".padding(toLength: 34, withPad: " ", startingAt: 0) + "type      shape            codec  max error   stored     bytes/token  ratio  filters")
        for e in entries {
            let shape = "(" + e.shape.map(String.init).joined(separator: ", ") + ")"
            let perToken = tokens > 0 ? String(format: "%.1f", Double(e.storedBytes) / Double(tokens)) : "-"
            let ratio = e.storedBytes > 0 ? String(format: "%.2f×", Double(e.rawFloat32Bytes) / Double(e.storedBytes)) : "-"
            lines.append("/" + e.path.padding(toLength: 33, withPad: " ", startingAt: 0)
                         + e.type.padding(toLength: 10, withPad: " ", startingAt: 0)
                         + shape.padding(toLength: 17, withPad: " ", startingAt: 0)
                         + (e.codec ?? "-").padding(toLength: 7, withPad: " ", startingAt: 0)
                         + (e.maxAbsError.map { String(format: "%.2e", $0) } ?? "-").padding(toLength: 12, withPad: " ", startingAt: 0)
                         + bytes(e.storedBytes).padding(toLength: 11, withPad: " ", startingAt: 0)
                         + perToken.padding(toLength: 13, withPad: " ", startingAt: 0)
                         + ratio.padding(toLength: 7, withPad: " ", startingAt: 0)
                         + e.filters.joined(separator: " → "))
        }
        lines.append("")
        lines.append("per component (stored bytes per token, ratio against raw fp32):")
        for c in components {
            let perToken = tokens > 0 ? String(format: "%.1f B/token", Double(c.storedBytes) / Double(tokens)) : "-"
            lines.append("  \(c.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(bytes(c.storedBytes).padding(toLength: 11, withPad: " ", startingAt: 0)) \(perToken.padding(toLength: 16, withPad: " ", startingAt: 0)) \(c.storedBytes > 0 ? String(format: "%.2f×", Double(c.rawBytes) / Double(c.storedBytes)) : "-")")
        }
        let raw = entries.reduce(0) { $0 + $1.rawFloat32Bytes }
        lines.append("file: \(bytes(fileBytes)) on disk; \(bytes(raw)) as raw fp32: \(fileBytes > 0 ? String(format: "%.2f×", Double(raw) / Double(fileBytes)) : "-")")
        return lines.joined(separator: "\n")
    }
}
