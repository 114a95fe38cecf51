/// Everything that can go wrong reading or writing a .safetensors file. Each case carries the
/// file path, and the tensor name where one is involved, so a message alone locates the problem.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened or read.
    case unreadable(file: String, reason: String)
    /// Shorter than the 8-byte header length.
    case tooShort(file: String, size: Int)
    /// The header length exceeds the 100 MB bound the reference implementation uses.
    case headerTooLarge(file: String, length: UInt64, limit: Int)
    /// The header length runs past the end of the file.
    case headerPastEnd(file: String, length: UInt64, fileSize: Int)
    /// The header is not UTF-8, not JSON, not an object, or `__metadata__` is not string → string.
    case invalidHeader(file: String, reason: String)
    /// A tensor entry lacks a field, has a field of the wrong type, or a shape that overflows.
    case invalidEntry(file: String, key: String, reason: String)
    case unknownDType(file: String, key: String, dtype: String)
    /// `data_offsets` end past the data section.
    case offsetsOutOfBounds(file: String, key: String, begin: Int, end: Int, dataSize: Int)
    /// `end - begin` differs from `product(shape) × element size`.
    case byteLengthMismatch(file: String, key: String, dtype: SafeTensorsDType, shape: [Int], expected: Int, actual: Int)
    /// Tensors overlap, leave a gap, or leave bytes unclaimed at the end of the file.
    case invalidLayout(file: String, key: String, reason: String)
    case missingTensor(file: String, key: String)
    /// The tensor's dtype cannot be returned as the requested element type.
    case wrongDType(file: String, key: String, dtype: SafeTensorsDType, requested: String)
    case shapeMismatch(file: String, key: String, expected: [Int], actual: [Int])
    /// `checkKeys` found expected tensors absent or unexpected ones present.
    case keyMismatch(file: String, missing: [String], unexpected: [String])
    /// Rejected by `SafeTensorsWriter.add`, before any file exists.
    case invalidTensor(key: String, reason: String)
    case writeFailed(file: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "\(file): cannot read safetensors file: \(reason)"
        case let .tooShort(file, size):
            return "\(file): \(size) bytes is too short for a safetensors file (need at least 8)"
        case let .headerTooLarge(file, length, limit):
            return "\(file): header length \(length) exceeds the limit of \(limit) bytes"
        case let .headerPastEnd(file, length, fileSize):
            return "\(file): header length \(length) runs past the end of the \(fileSize)-byte file (truncated?)"
        case let .invalidHeader(file, reason):
            return "\(file): invalid header: \(reason)"
        case let .invalidEntry(file, key, reason):
            return "\(file): tensor '\(key)': \(reason)"
        case let .unknownDType(file, key, dtype):
            let known = SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
            return "\(file): tensor '\(key)': unsupported dtype '\(dtype)' (supported: \(known))"
        case let .offsetsOutOfBounds(file, key, begin, end, dataSize):
            return "\(file): tensor '\(key)': data_offsets [\(begin), \(end)] beyond the \(dataSize)-byte data section (truncated?)"
        case let .byteLengthMismatch(file, key, dtype, shape, expected, actual):
            return "\(file): tensor '\(key)': \(dtype.rawValue) shape \(shape) needs \(expected) bytes but data_offsets span \(actual)"
        case let .invalidLayout(file, key, reason):
            return "\(file): tensor '\(key)': \(reason)"
        case let .missingTensor(file, key):
            return "\(file): no tensor named '\(key)'"
        case let .wrongDType(file, key, dtype, requested):
            return "\(file): tensor '\(key)' has dtype \(dtype.rawValue), which cannot be read as \(requested)"
        case let .shapeMismatch(file, key, expected, actual):
            return "\(file): tensor '\(key)': expected shape \(expected), found \(actual)"
        case let .keyMismatch(file, missing, unexpected):
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing \(Self.list(missing))") }
            if !unexpected.isEmpty { parts.append("unexpected \(Self.list(unexpected))") }
            return "\(file): tensor names do not match the model: " + parts.joined(separator: "; ")
        case let .invalidTensor(key, reason):
            return "safetensors writer: tensor '\(key)': \(reason)"
        case let .writeFailed(file, reason):
            return "\(file): cannot write safetensors file: \(reason)"
        }
    }

    /// Quotes the first few names and counts the rest, so a wrong checkpoint does not print
    /// hundreds of lines.
    private static func list(_ names: [String], limit: Int = 8) -> String {
        let shown = names.prefix(limit).map { "'\($0)'" }.joined(separator: ", ")
        return names.count > limit ? "\(shown) and \(names.count - limit) more" : shown
    }
}
