/// How much JSON text a caller accepts. Each caller states its own (the text comes from files we
/// did not write): the size bounds time and memory, the depth bounds the parser's recursion.
public struct JSONLimits: Equatable, Sendable {
    /// The longest text, in bytes.
    public var maxBytes: Int
    /// The most objects and arrays nested inside one another (scalars do not count).
    public var maxDepth: Int

    public init(maxBytes: Int, maxDepth: Int) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
    }
}

/// Why the text is not JSON (or is over a limit), at a 0-based byte offset into the text.
public struct JSONSyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public let offset: Int

    public var description: String { "\(message) at byte \(offset)" }
}

/// Recursive-descent parser of one JSON value (RFC 8259) from UTF-8 bytes, strict where a
/// hostile file would otherwise be ambiguous or costly:
/// - a duplicate key in any object is an error (which value counts would be a guess);
/// - strings must be valid UTF-8, with escapes and `\u` surrogate pairs decoded and an unpaired
///   surrogate refused;
/// - a number must follow the grammar exactly and be finite as a Double (`1e999` is refused);
/// - text and nesting are bounded by the caller's `JSONLimits`.
public struct JSONParser {
    private let bytes: UnsafeBufferPointer<UInt8>
    private let limits: JSONLimits
    private var i = 0
    private var depth = 0

    /// Parses exactly one value filling `bytes`, allowing whitespace around it.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, limits: JSONLimits) throws(JSONSyntaxError) -> JSONValue {
        guard bytes.count <= limits.maxBytes else {
            throw JSONSyntaxError(message: "\(bytes.count) bytes of JSON, over the limit of \(limits.maxBytes)", offset: limits.maxBytes)
        }
        var parser = JSONParser(bytes: bytes, limits: limits)
        parser.skipWhitespace()
        let value = try parser.value()
        parser.skipWhitespace()
        if parser.i < bytes.count { throw parser.error("unexpected text after the JSON value") }
        return value
    }

    public static func parse(_ bytes: [UInt8], limits: JSONLimits) throws(JSONSyntaxError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer throws(JSONSyntaxError) in try parse(buffer, limits: limits) }
    }

    private init(bytes: UnsafeBufferPointer<UInt8>, limits: JSONLimits) {
        self.bytes = bytes
        self.limits = limits
    }

    private mutating func value() throws(JSONSyntaxError) -> JSONValue {
        guard i < bytes.count else { throw error("unexpected end of input") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try nested { parser throws(JSONSyntaxError) in try parser.object() }
        case UInt8(ascii: "["): return try nested { parser throws(JSONSyntaxError) in try parser.array() }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw error("unexpected character \(characterHere())")
        }
    }

    private mutating func nested(_ parse: (inout JSONParser) throws(JSONSyntaxError) -> JSONValue) throws(JSONSyntaxError) -> JSONValue {
        depth += 1
        defer { depth -= 1 }
        if depth > limits.maxDepth { throw error("nested deeper than \(limits.maxDepth) levels") }
        return try parse(&self)
    }

    private mutating func object() throws(JSONSyntaxError) -> JSONValue {
        i += 1  // {
        var object = JSONObject()
        skipWhitespace()
        if consume(UInt8(ascii: "}")) { return .object(object) }
        while true {
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let keyOffset = i
            let key = try string()
            skipWhitespace()
            guard consume(UInt8(ascii: ":")) else { throw error("expected ':' after key") }
            skipWhitespace()
            guard object.append(key, try value()) else {
                throw JSONSyntaxError(message: "duplicate key \"\(key)\"", offset: keyOffset)
            }
            skipWhitespace()
            if consume(UInt8(ascii: ",")) { continue }
            if consume(UInt8(ascii: "}")) { return .object(object) }
            throw error("expected ',' or '}'")
        }
    }

    private mutating func array() throws(JSONSyntaxError) -> JSONValue {
        i += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if consume(UInt8(ascii: "]")) { return .array(elements) }
        while true {
            skipWhitespace()
            elements.append(try value())
            skipWhitespace()
            if consume(UInt8(ascii: ",")) { continue }
            if consume(UInt8(ascii: "]")) { return .array(elements) }
            throw error("expected ',' or ']'")
        }
    }

    private mutating func string() throws(JSONSyntaxError) -> String {
        let quote = i
        i += 1  // opening quote
        let contentStart = i
        // Fast path: no escapes, so the bytes are the string.
        while i < bytes.count, bytes[i] != UInt8(ascii: "\""), bytes[i] != UInt8(ascii: "\\"), bytes[i] >= 0x20 {
            i += 1
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "\"") {
            i += 1
            return try validUTF8(bytes[contentStart..<(i - 1)], at: quote)
        }
        var out = Array(bytes[contentStart..<i])
        while true {
            guard i < bytes.count else { throw error("unterminated string") }
            let byte = bytes[i]
            switch byte {
            case UInt8(ascii: "\""):
                i += 1
                return try validUTF8(out, at: quote)
            case UInt8(ascii: "\\"):
                try escape(into: &out)
            case 0..<0x20:
                throw error("control character in string (must be escaped)")
            default:
                out.append(byte)
                i += 1
            }
        }
    }

    /// The string `utf8` spells, or an error at the string's opening quote when a byte is not
    /// valid UTF-8 (decoding would have put U+FFFD in its place).
    private func validUTF8<Bytes: Collection<UInt8>>(_ utf8: Bytes, at quote: Int) throws(JSONSyntaxError) -> String {
        let text = String(decoding: utf8, as: UTF8.self)
        guard text.utf8.elementsEqual(utf8) else { throw JSONSyntaxError(message: "string is not valid UTF-8", offset: quote) }
        return text
    }

    private mutating func escape(into out: inout [UInt8]) throws(JSONSyntaxError) {
        i += 1  // backslash
        guard i < bytes.count else { throw error("unterminated string") }
        let code = bytes[i]
        i += 1
        switch code {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(code)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            // A high surrogate must be followed by \u and a low surrogate.
            if (0xD800...0xDBFF).contains(scalar) {
                guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                    throw error("unpaired surrogate in \\u escape")
                }
                i += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate in \\u escape") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw error("unpaired surrogate in \\u escape")
            }
            // Never nil: surrogates are handled above and a pair stays within U+10FFFF.
            UTF8.encode(Unicode.Scalar(scalar)!) { out.append($0) }
        default:
            i -= 1
            throw error("invalid escape character \(characterHere()) after '\\'")
        }
    }

    private mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        guard i + 4 <= bytes.count else { throw error("expected four hex digits after \\u") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = Character(Unicode.Scalar(bytes[i])).hexDigitValue else {
                throw error("expected four hex digits after \\u")
            }
            value = value << 4 | UInt32(digit)
            i += 1
        }
        return value
    }

    // number = [ "-" ] int [ frac ] [ exp ], with no leading zeros, "+", ".5" or "1.".
    private mutating func number() throws(JSONSyntaxError) -> JSONNumber {
        let numberStart = i
        var isInteger = true
        _ = consume(UInt8(ascii: "-"))
        if consume(UInt8(ascii: "0")) {
            if i < bytes.count, isDigit(bytes[i]) { throw error("leading zero in number") }
        } else {
            guard digits() > 0 else { throw error("expected a digit") }
        }
        if consume(UInt8(ascii: ".")) {
            isInteger = false
            guard digits() > 0 else { throw error("expected a digit after '.'") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            isInteger = false
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { throw error("expected a digit in exponent") }
        }
        let text = String(decoding: bytes[numberStart..<i], as: UTF8.self)
        // The grammar above is a subset of what Double parses; huge exponents give ±infinity.
        guard let value = Double(text), value.isFinite else {
            throw JSONSyntaxError(message: "number out of range", offset: numberStart)
        }
        return JSONNumber(text: text, value: value, isInteger: isInteger)
    }

    private mutating func digits() -> Int {
        let from = i
        while i < bytes.count, isDigit(bytes[i]) { i += 1 }
        return i - from
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let count = word.utf8CodeUnitCount
        let matches = i + count <= bytes.count && (0..<count).allSatisfy { bytes[i + $0] == word.utf8Start[$0] }
        guard matches else { throw error("invalid literal (expected \(word))") }
        i += count
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard i < bytes.count, bytes[i] == byte else { return false }
        i += 1
        return true
    }

    private mutating func skipWhitespace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D {
            i += 1
        }
    }

    // The character at the cursor, quoted, for messages (U+FFFD where the bytes are not UTF-8).
    private func characterHere() -> String {
        let character = String(decoding: bytes[i..<min(i + 4, bytes.count)], as: UTF8.self).first.map(String.init) ?? ""
        return "'\(character)'"
    }

    private func error(_ message: String) -> JSONSyntaxError {
        JSONSyntaxError(message: message, offset: i)
    }
}
