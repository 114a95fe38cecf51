import Foundation
import HDF5

/// `distillery verify`: schema conformance, consistent offsets, every chunk readable (Fletcher32
/// checksums), no NaN or infinity. Each fault names the dataset and the rows.
public struct CacheVerification: Sendable {
    public struct Fault: Sendable, CustomStringConvertible {
        public var dataset: String
        public var rows: Range<Int>?
        public var reason: String
        public var description: String {
            "/\(dataset)" + (rows.map { " rows \($0.lowerBound)..<\($0.upperBound)" } ?? "") + ": \(reason)"
        }
    }

    public var url: URL
    public var faults: [Fault] = []
    public var datasetsChecked = 0
    public var valuesChecked = 0
    /// A merged cache's shard files (their chunks are read, and so checksummed, through it).
    public var shards: [MergedShard] = []
    public var ok: Bool { faults.isEmpty }

    /// Checks `url` from top to bottom; never throws for a fault inside the file, only collects it.
    public static func run(_ url: URL, blockRows: Int = 1 << 16) throws -> CacheVerification {
        var result = CacheVerification(url: url)
        func fault(_ dataset: String, _ rows: Range<Int>?, _ reason: String) {
            result.faults.append(Fault(dataset: dataset, rows: rows, reason: reason))
        }
        let file: H5File
        do { file = try H5File.open(url) } catch { throw CacheError.notACache("\(url.path): \(error)") }
        defer { try? file.close() }
        let root = try file.root
        for attribute in [CacheLayout.schemaVersionAttribute, CacheLayout.toolVersionAttribute, CacheLayout.completeAttribute,
                          CacheLayout.specAttribute, CacheLayout.teacherAttribute, CacheLayout.datasetsAttribute,
                          CacheLayout.createdAttribute, CacheLayout.headAttribute] where !(try root.hasAttribute(attribute)) {
            fault("", nil, "missing root attribute '\(attribute)'")
        }
        guard result.ok else { return result }
        let version = try root.int64Attribute(CacheLayout.schemaVersionAttribute)
        if version > CacheLayout.schemaVersion {
            fault("", nil, "schema version \(version) is newer than this Distillery (\(CacheLayout.schemaVersion))")
            return result
        }
        if try root.int64Attribute(CacheLayout.completeAttribute) != 1 { fault("", nil, "not marked complete (interrupted write)") }
        let spec: CacheSpec, provenance: CacheProvenance
        do {
            spec = try CacheProvenance.decode(CacheSpec.self, from: root.stringAttribute(CacheLayout.specAttribute), what: "spec")
            provenance = try CacheProvenance.decode(CacheProvenance.self, from: root.stringAttribute(CacheLayout.teacherAttribute), what: "teacher")
            // Every attribute a reader decodes is decoded here too: a damaged one is a fault, not a later refusal.
            if try root.hasAttribute(CacheLayout.labelNamesAttribute) {
                let names = try CacheProvenance.decode([String].self, from: root.stringAttribute(CacheLayout.labelNamesAttribute), what: "label_names")
                if names != provenance.labelNames { fault("", nil, "label_names \(names) disagrees with the teacher provenance's \(provenance.labelNames ?? [])") }
            }
            if try root.hasAttribute(CacheLayout.shardAttribute) {
                _ = try CacheProvenance.decode(CacheShard.self, from: root.stringAttribute(CacheLayout.shardAttribute), what: "shard")
            }
        } catch {
            fault("", nil, "\(error)")
            return result
        }
        let sequences = try root.hasAttribute(CacheLayout.sequencesAttribute) ? Int(try root.int64Attribute(CacheLayout.sequencesAttribute)) : -1
        // A merged cache: the shards are checked before any virtual dataset is read (after a
        // read, HDF5 1.10 holds the shard files open and a second open of them here fails).
        let shards: [MergedShard]
        do { shards = try CacheReader.mergedShards(root, url) } catch { fault("", nil, "\(error)"); return result }
        if !shards.isEmpty {
            result.shards = shards
            result.faults += try checkShards(shards, of: url, root: root, spec: spec, provenance: provenance)
        }

        // Schema: every planned dataset with its type and width.
        var datasets: [String: H5Dataset] = [:]
        for planned in CacheLayout.datasets(spec: spec, provenance: provenance) {
            guard let d = try? root.dataset(planned.path) else { fault(planned.path, nil, "missing"); continue }
            if d.elementType != planned.type { fault(planned.path, nil, "element type \(d.elementType), schema says \(planned.type)") }
            if d.columns != planned.columns && !(planned.columns == 0 && d.rank == 1) {
                fault(planned.path, nil, "\(d.columns) columns, schema says \(planned.columns)")
            }
            datasets[planned.path] = d
        }

        // Offsets and row counts along each axis.
        func offsets(_ path: String, entries: Int?) -> [Int64]? {
            guard let d = datasets[path] else { return nil }
            if let entries, d.rows != entries { fault(path, nil, "\(d.rows) entries, expected \(entries)"); return nil }
            guard let values = try? d.read(Int64.self, rows: 0..<d.rows) else { fault(path, 0..<d.rows, "unreadable"); return nil }
            if values.first != 0 { fault(path, 0..<1, "does not start at 0") }
            if let bad = values.indices.dropLast().first(where: { values[$0] > values[$0 + 1] }) { fault(path, bad..<(bad + 2), "not monotone") }
            return values
        }
        let tokenOffsets = offsets(CacheLayout.offsets, entries: sequences >= 0 ? sequences + 1 : nil)
        let s = (tokenOffsets?.count ?? 1) - 1
        let tokens = Int(tokenOffsets?.last ?? 0)
        var axes: [String: Int] = ["sequences": s, "sequences+1": s + 1, "tokens": tokens]
        for column in CacheLayout.stringColumns(provenance) {
            if let ends = offsets(column.offsets, entries: s + 1) { axes[column.axis] = Int(ends.last ?? 0) }
        }
        let maskOffsets = offsets(CacheLayout.maskOffsets, entries: s + 1)
        if let maskOffsets {
            axes["masked"] = Int(maskOffsets.last ?? 0); axes["masked+1"] = Int(maskOffsets.last ?? 0) + 1
        }
        if let attention = offsets(CacheLayout.attentionOffsets, entries: s + 1), let tokenOffsets {
            let heads = provenance.teacher.heads
            for i in 0..<s {
                let n = Int(tokenOffsets[i + 1] - tokenOffsets[i])
                if attention[i + 1] - attention[i] != Int64(heads * n * n) {
                    fault(CacheLayout.attentionOffsets, i..<(i + 2), "sequence \(i) has \(attention[i + 1] - attention[i]) attention values, expected heads·n² = \(heads * n * n)")
                    break
                }
            }
            axes["attention_values"] = Int(attention.last ?? 0); axes["attention_rows"] = heads * tokens
        }
        let outputAxis = CacheLayout.isMaskedLM(spec: spec, provenance: provenance) ? "masked" : "sequences"
        if let sampled = offsets(CacheLayout.sampledOffsets, entries: axes[outputAxis].map { $0 + 1 }) { axes["samples"] = Int(sampled.last ?? 0) }
        if spec.logits.contains(.sampled) { axes[outputAxis + "+1"] = (axes[outputAxis] ?? 0) + 1 }
        for planned in CacheLayout.datasets(spec: spec, provenance: provenance) {
            guard let d = datasets[planned.path], let expected = axes[planned.axis] else { continue }
            if d.rows != expected { fault(planned.path, nil, "\(d.rows) rows, expected \(expected) (\(planned.axis))") }
        }

        // Every chunk readable, every float finite, every index within its bound.
        let bounds = CacheLayout.indexBounds(provenance: provenance)
        for planned in CacheLayout.datasets(spec: spec, provenance: provenance) {
            guard let d = datasets[planned.path] else { continue }
            result.datasetsChecked += 1
            let block = max(1, (d.chunkRows ?? blockRows) * max(1, blockRows / max(1, d.chunkRows ?? blockRows)))
            var row = 0
            while row < d.rows {
                let rows = row..<min(row + block, d.rows)
                do {
                    switch d.elementType {
                    case .float32, .float16, .bfloat16, .float64:
                        let values = try d.read(Float.self, rows: rows)
                        if let bad = values.firstIndex(where: { !$0.isFinite }) {
                            let width = max(1, d.columns)
                            fault(planned.path, (rows.lowerBound + bad / width)..<(rows.lowerBound + bad / width + 1), "non-finite value \(values[bad])")
                        }
                        result.valuesChecked += values.count
                    default:
                        let values = try readIntegers(d, rows)
                        if let (bound, what) = bounds[planned.path],
                           let (index, value) = CacheLayout.firstOutOfRange(values, below: bound) {
                            let row = rows.lowerBound + index / max(1, d.columns)
                            fault(planned.path, row..<(row + 1), "value \(value) is outside 0..<\(bound) (\(what))")
                        }
                        if planned.path == CacheLayout.maskPositions, let tokenOffsets, let maskOffsets = maskOffsets {
                            if let bad = CacheLayout.firstPositionOutsideItsSequence(values, firstRow: rows.lowerBound, maskOffsets: maskOffsets,
                                                                                    tokenOffsets: tokenOffsets) {
                                fault(planned.path, bad.row..<(bad.row + 1), "position \(bad.position) is outside sequence \(bad.sequence)'s tokens")
                            }
                        }
                        result.valuesChecked += values.count
                    }
                } catch {
                    fault(planned.path, rows, "unreadable: \(error)")
                }
                row = rows.upperBound
            }
        }
        return result
    }

    /// Every shard file a merged cache lists or maps must exist, be a complete cache, and hold
    /// the rows each virtual dataset maps from it (HDF5 would read what is missing as fill values).
    private static func checkShards(_ shards: [MergedShard], of url: URL, root: H5Group, spec: CacheSpec,
                                    provenance: CacheProvenance) throws -> [Fault] {
        var faults: [Fault] = []
        func resolve(_ file: String) -> URL { MergedShard(file: file, index: 0, count: 0, firstSequence: 0, endSequence: 0, tokens: 0).url(relativeTo: url) }
        var files: [String: H5File] = [:], missing: Set<String> = []
        defer { for f in files.values { try? f.close() } }
        func open(_ file: String, shard: String) -> H5File? {
            if let f = files[file] { return f }
            if missing.contains(file) { return nil }
            let path = resolve(file).path
            guard FileManager.default.fileExists(atPath: path) else {
                faults.append(Fault(dataset: "", rows: nil, reason: "shard file \(path)\(shard) is missing: its rows would read as fill values"))
                missing.insert(file)
                return nil
            }
            do {
                let f = try H5File.open(resolve(file))
                if try f.root.int64Attribute(CacheLayout.completeAttribute) != 1 {
                    faults.append(Fault(dataset: "", rows: nil, reason: "shard file \(path) is not marked complete"))
                }
                files[file] = f
                return f
            } catch {
                faults.append(Fault(dataset: "", rows: nil, reason: "shard file \(path) cannot be opened: \(error)\("\(error)".contains("close degree") ? " (HDF5 1.10 holds it open for a merged cache read elsewhere in this process)" : "")"))
                missing.insert(file)
                return nil
            }
        }
        for shard in shards { _ = open(shard.file, shard: " (shard \(shard.index)/\(shard.count))") }
        for planned in CacheLayout.datasets(spec: spec, provenance: provenance) {
            guard let d = try? root.dataset(planned.path) else { continue }
            let mappings = try d.virtualSources
            if mappings.isEmpty && !CacheLayout.offsetDatasets.contains(planned.path) {
                faults.append(Fault(dataset: planned.path, rows: nil, reason: "not a virtual dataset in a merged cache"))
            }
            for m in mappings {
                guard let f = open(m.file, shard: "") else { continue }
                guard let source = try? f.root.dataset(m.dataset) else {
                    faults.append(Fault(dataset: planned.path, rows: m.rows, reason: "\(resolve(m.file).path) has no dataset \(m.dataset)"))
                    continue
                }
                if source.rows != m.rows.count || source.elementType != d.elementType {
                    faults.append(Fault(dataset: planned.path, rows: m.rows, reason: "\(resolve(m.file).path) holds \(source.rows) rows of \(source.elementType) at \(m.dataset), the mapping expects \(m.rows.count) of \(d.elementType)"))
                }
            }
        }
        return faults
    }

    /// Reads rows in their own integer type (decompressing and checksumming every chunk), widened.
    private static func readIntegers(_ d: H5Dataset, _ rows: Range<Int>) throws -> [Int64] {
        switch d.elementType {
        case .int8: return try d.read(Int8.self, rows: rows).map(Int64.init)
        case .uint8: return try d.read(UInt8.self, rows: rows).map(Int64.init)
        case .int16: return try d.read(Int16.self, rows: rows).map(Int64.init)
        case .uint16: return try d.read(UInt16.self, rows: rows).map(Int64.init)
        case .int32: return try d.read(Int32.self, rows: rows).map(Int64.init)
        case .uint32: return try d.read(UInt32.self, rows: rows).map(Int64.init)
        default: return try d.read(Int64.self, rows: rows)
        }
    }
}
