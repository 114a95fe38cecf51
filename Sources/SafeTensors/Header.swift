import JSON

/// A parsed and validated header: every entry well-formed, inside the data section, and the
/// entries tiling the data section exactly (no overlap, no gap, nothing after the last tensor),
/// which is what the reference implementation requires too.
struct Header {
    /// The reference implementation's bound on the header length; a larger value is corruption.
    static let maxLength = 100_000_000

    var metadata: [String: String]
    /// In data order.
    var tensors: [TensorInfo]

    /// What a header may hold: `maxLength` bytes (the reader refuses a longer one before reading
    /// it) and 64 levels of nesting (a header has 3).
    static let jsonLimits = JSONLimits(maxBytes: maxLength, maxDepth: 64)

    /// `bytes` is the JSON text; `dataSize` the number of bytes that follow it in the file. The
    /// parser refuses text that is not UTF-8, and a key given twice in any object: JSON leaves
    /// open which value counts (parsers keep the first, the last, or refuse), so a hostile file
    /// could show two readers two different tensors.
    init(bytes: [UInt8], dataSize: Int, file: String) throws {
        let root: JSONValue
        do {
            root = try JSONParser.parse(bytes, limits: Self.jsonLimits)
        } catch {
            throw SafeTensorsError.invalidHeader(file: file, reason: "not valid JSON at byte \(error.offset): \(error.message)")
        }
        guard case let .object(entries) = root else {
            throw SafeTensorsError.invalidHeader(file: file, reason: "expected a JSON object, found \(root.kindWithArticle)")
        }

        var metadata: [String: String] = [:]
        var tensors: [TensorInfo] = []
        for (key, value) in entries.members {
            if key == "__metadata__" {
                metadata = try Self.metadata(value, file: file)
            } else {
                tensors.append(try Self.entry(key, value, dataSize: dataSize, file: file))
            }
        }
        try Self.checkLayout(&tensors, dataSize: dataSize, file: file)
        self.metadata = metadata
        self.tensors = tensors
    }

    private static func metadata(_ value: JSONValue, file: String) throws -> [String: String] {
        if case .null = value { return [:] }
        guard case let .object(items) = value else {
            throw SafeTensorsError.invalidHeader(file: file, reason: "__metadata__ must be an object, found \(value.kindWithArticle)")
        }
        var metadata: [String: String] = [:]
        for (key, item) in items.members {
            guard case let .string(text) = item else {
                throw SafeTensorsError.invalidHeader(file: file, reason: "__metadata__ value for '\(key)' must be a string, found \(item.kindWithArticle)")
            }
            metadata[key] = text
        }
        return metadata
    }

    /// One `"name": {"dtype": .., "shape": [..], "data_offsets": [begin, end]}` entry.
    private static func entry(_ name: String, _ value: JSONValue, dataSize: Int, file: String) throws -> TensorInfo {
        func invalid(_ reason: String) -> SafeTensorsError { .invalidEntry(file: file, key: name, reason: reason) }

        // Unknown fields are ignored, as the reference does.
        guard case let .object(fields) = value else { throw invalid("expected an object, found \(value.kindWithArticle)") }

        guard let dtypeValue = fields["dtype"] else { throw invalid("missing 'dtype'") }
        guard case let .string(dtypeName) = dtypeValue else { throw invalid("'dtype' must be a string, found \(dtypeValue.kindWithArticle)") }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw SafeTensorsError.unknownDType(file: file, key: name, dtype: dtypeName)
        }

        guard let shapeValue = fields["shape"] else { throw invalid("missing 'shape'") }
        guard case let .array(dims) = shapeValue else { throw invalid("'shape' must be an array, found \(shapeValue.kindWithArticle)") }
        let shape = try dims.map { dim -> Int in
            guard let size = dim.nonNegativeInt else { throw invalid("'shape' entries must be non-negative integers, found \(dim.text)") }
            return size
        }

        guard let offsetsValue = fields["data_offsets"] else { throw invalid("missing 'data_offsets'") }
        guard case let .array(offsets) = offsetsValue, offsets.count == 2 else {
            throw invalid("'data_offsets' must be an array of two integers, found \(offsetsValue.text)")
        }
        guard let begin = offsets[0].nonNegativeInt, let end = offsets[1].nonNegativeInt else {
            throw invalid("'data_offsets' must be non-negative integers, found \(offsetsValue.text)")
        }
        guard begin <= end else { throw invalid("data_offsets [\(begin), \(end)] begin after end") }
        guard end <= dataSize else {
            throw SafeTensorsError.offsetsOutOfBounds(file: file, key: name, begin: begin, end: end, dataSize: dataSize)
        }

        guard let expected = byteCount(shape: shape, dtype: dtype) else { throw invalid("shape \(shape) is too large") }
        guard end - begin == expected else {
            throw SafeTensorsError.byteLengthMismatch(file: file, key: name, dtype: dtype, shape: shape,
                                                      expected: expected, actual: end - begin)
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
    }

    /// `product(shape) × dtype.size`, or nil on overflow.
    static func byteCount(shape: [Int], dtype: SafeTensorsDType) -> Int? {
        var total = dtype.size
        for dim in shape {
            let (product, overflow) = total.multipliedReportingOverflow(by: dim)
            if overflow { return nil }
            total = product
        }
        return total
    }

    /// Sorts `tensors` into data order and checks they tile `0..<dataSize`.
    private static func checkLayout(_ tensors: inout [TensorInfo], dataSize: Int, file: String) throws {
        tensors.sort { ($0.byteRange.lowerBound, $0.byteRange.upperBound, $0.name) < ($1.byteRange.lowerBound, $1.byteRange.upperBound, $1.name) }
        var end = 0
        var previous: String?
        for tensor in tensors {
            let begin = tensor.byteRange.lowerBound
            if begin < end {
                throw SafeTensorsError.invalidLayout(file: file, key: tensor.name,
                                                     reason: "bytes \(tensor.byteRange) overlap tensor '\(previous ?? "")' (which ends at \(end))")
            }
            if begin > end {
                throw SafeTensorsError.invalidLayout(file: file, key: tensor.name,
                                                     reason: "starts at \(begin), leaving unused bytes \(end)..<\(begin) before it")
            }
            end = tensor.byteRange.upperBound
            if !tensor.byteRange.isEmpty { previous = tensor.name }
        }
        guard end == dataSize else {
            guard let last = tensors.last else {
                throw SafeTensorsError.invalidHeader(file: file, reason: "no tensors, but \(dataSize) data bytes follow the header")
            }
            throw SafeTensorsError.invalidLayout(file: file, key: last.name,
                                                 reason: "data section has \(dataSize - end) unused bytes after the last tensor")
        }
    }
}

extension JSONValue {
    /// An integer written as such (not `1.0`, not `1e3`) that fits in `Int` and is not negative.
    var nonNegativeInt: Int? {
        guard let value = number?.int, value >= 0 else { return nil }
        return value
    }

    /// Short rendering for error messages.
    var text: String {
        switch self {
        case let .number(number): return number.text
        case let .string(value): return "\"\(value)\""
        case let .array(items) where items.count <= 8: return "[" + items.map(\.text).joined(separator: ", ") + "]"
        case let .array(items): return "an array of \(items.count) items"
        case .object: return "{...}"
        case let .bool(value): return String(value)
        case .null: return "null"
        }
    }
}
