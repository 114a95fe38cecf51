import Foundation
import HalfFloat

/// Collects tensors, then writes a .safetensors file in one atomic step. Layout as the reference
/// `safetensors.save_file`: compact JSON header padded with spaces to a multiple of 8, data ordered
/// by dtype (widest first) then name; our metadata keys are sorted. The bytes are identical to the
/// reference's whenever metadata has at most one key (the reference orders it by hash).
public struct SafeTensorsWriter {
    struct Entry {
        let dtype: SafeTensorsDType
        let shape: [Int]
        /// Already encoded, little-endian.
        let bytes: [UInt8]
    }

    private let metadata: [String: String]
    private var entries: [String: Entry] = [:]

    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }

    /// Adds `floats` (row-major, `product(shape)` values) stored as F32, F16 or BF16; narrowing
    /// rounds to nearest, ties to even.
    public mutating func add(_ name: String, shape: [Int], floats: [Float], as dtype: SafeTensorsDType = .f32) throws {
        let bytes: [UInt8]
        switch dtype {
        case .f32: bytes = Self.encode(floats) { $0.bitPattern }
        case .f16: bytes = Self.encode(floats, HalfFloat.half)
        case .bf16: bytes = Self.encode(floats, HalfFloat.bfloat16)
        default:
            throw SafeTensorsError.invalidTensor(key: name, reason: "floats can be written as F32, F16 or BF16, not \(dtype.rawValue)")
        }
        try insert(name, Entry(dtype: dtype, shape: shape, bytes: bytes), count: floats.count)
    }

    public mutating func add(_ name: String, shape: [Int], int64s: [Int64]) throws {
        try insert(name, Entry(dtype: .i64, shape: shape, bytes: Self.encode(int64s) { UInt64(bitPattern: $0) }), count: int64s.count)
    }

    private mutating func insert(_ name: String, _ entry: Entry, count: Int) throws {
        func invalid(_ reason: String) -> SafeTensorsError { .invalidTensor(key: name, reason: reason) }
        guard name != "__metadata__" else { throw invalid("the name is reserved for the header's metadata") }
        guard entries[name] == nil else { throw invalid("added twice") }
        guard entry.shape.allSatisfy({ $0 >= 0 }) else { throw invalid("negative dimension in shape \(entry.shape)") }
        guard let bytes = Header.byteCount(shape: entry.shape, dtype: entry.dtype) else { throw invalid("shape \(entry.shape) is too large") }
        guard bytes / entry.dtype.size == count else {
            throw invalid("shape \(entry.shape) holds \(bytes / entry.dtype.size) values but \(count) were given")
        }
        entries[name] = entry
    }

    private static func encode<Value, Word: FixedWidthInteger>(_ values: [Value], _ bits: (Value) -> Word) -> [UInt8] {
        let size = MemoryLayout<Word>.size
        #if _endian(little)
        // Float and Int64 are already their little-endian bit patterns: one copy (fast in debug too).
        if MemoryLayout<Value>.size == size && (Value.self == Float.self || Value.self == Int64.self) {
            return values.withUnsafeBytes { Array($0) }
        }
        #endif
        return [UInt8](unsafeUninitializedCapacity: values.count * size) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            for (i, value) in values.enumerated() {
                raw.storeBytes(of: bits(value).littleEndian, toByteOffset: i * size, as: Word.self)
            }
            initialized = values.count * size
        }
    }

    /// Data order of the reference writer.
    var orderedNames: [String] {
        entries.keys.sorted { a, b in
            let (rankA, rankB) = (entries[a]!.dtype.writeRank, entries[b]!.dtype.writeRank)
            return rankA != rankB ? rankA > rankB : a < b
        }
    }

    /// The 8-byte length followed by the padded JSON header.
    func header() -> [UInt8] {
        var json = "{"
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(Self.quoted($0)):\(Self.quoted(metadata[$0]!))" }
            fields.append("\"__metadata__\":{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        for name in orderedNames {
            let entry = entries[name]!
            let shape = entry.shape.map(String.init).joined(separator: ",")
            fields.append("\(Self.quoted(name)):{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":[\(shape)],"
                          + "\"data_offsets\":[\(offset),\(offset + entry.bytes.count)]}")
            offset += entry.bytes.count
        }
        json += fields.joined(separator: ",") + "}"
        var text = Array(json.utf8)
        // Pad so the data section starts 8-aligned, as the reference does.
        text += Array(repeating: UInt8(ascii: " "), count: (8 - text.count % 8) % 8)
        return Self.encode([UInt64(text.count)]) { $0 } + text
    }

    /// A JSON string literal, escaped as serde_json does (short escapes where JSON has them,
    /// `\u00XX` for other control characters, everything else raw UTF-8).
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{00}"..."\u{1F}":
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Writes to a temporary file in the destination folder, flushes it to disk, then renames it
    /// over `url`: readers see the old file or the complete new one, never a partial write.
    public func write(to url: URL) throws {
        let file = url.path
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw SafeTensorsError.writeFailed(file: file, reason: "cannot create temporary file \(temporary.path)")
        }
        do {
            let handle = try FileHandle(forWritingTo: temporary)
            do {
                try handle.write(contentsOf: header())
                for name in orderedNames { try handle.write(contentsOf: entries[name]!.bytes) }
                try handle.synchronize()
                try handle.close()
            } catch {
                try? handle.close()
                throw error
            }
            guard rename(temporary.path, file) == 0 else {
                throw SafeTensorsError.writeFailed(file: file, reason: "rename failed: \(String(cString: strerror(errno)))")
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            if let error = error as? SafeTensorsError { throw error }
            throw SafeTensorsError.writeFailed(file: file, reason: error.localizedDescription)
        }
    }
}
