/// A parsed JSON value (RFC 8259). Numbers keep their text so an id such as
/// 12345678901234567890 survives exactly, which a Double would not.
enum JSONValue: Equatable {
    case null
    case bool(Bool)
    case number(Double, text: String)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The type's name as used in error messages.
    var kind: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

/// A JSON syntax error at a 0-based byte offset from the start of the parsed range.
struct JSONSyntaxError: Error, Equatable {
    let message: String
    let offset: Int
}

/// Recursive-descent JSON parser over UTF-8 bytes that were already validated.
/// Duplicate keys in an object are an error: which value counts is ambiguous.
struct JSONParser {
    // Deep enough for any real dataset row; shallow enough to never overflow the stack.
    static let maxDepth = 256

    private let bytes: Bytes
    private let start: Int
    private let end: Int
    private var i: Int
    private var depth = 0

    /// Parses exactly one value in `bytes[range]`, allowing surrounding whitespace.
    static func parse(_ bytes: Bytes, _ range: Range<Int>) throws -> JSONValue {
        var parser = JSONParser(bytes: bytes, start: range.lowerBound, end: range.upperBound, i: range.lowerBound)
        parser.skipWhitespace()
        let value = try parser.value()
        parser.skipWhitespace()
        if parser.i < parser.end { throw parser.error("unexpected text after the value") }
        return value
    }

    private mutating func value() throws -> JSONValue {
        guard i < end else { throw error("unexpected end of line") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try nested { try $0.object() }
        case UInt8(ascii: "["): return try nested { try $0.array() }
        case ASCII.quote: return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("unexpected character \(characterHere())")
        }
    }

    private mutating func nested(_ parse: (inout JSONParser) throws -> JSONValue) throws -> JSONValue {
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maxDepth { throw error("nested deeper than \(Self.maxDepth) levels") }
        return try parse(&self)
    }

    private mutating func object() throws -> JSONValue {
        i += 1  // {
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if consume(UInt8(ascii: "}")) { return .object(members) }
        while true {
            skipWhitespace()
            guard i < end, bytes[i] == ASCII.quote else { throw error("expected a string key") }
            let keyOffset = i
            let key = try string()
            skipWhitespace()
            guard consume(UInt8(ascii: ":")) else { throw error("expected ':' after key") }
            skipWhitespace()
            let member = try value()
            if members.updateValue(member, forKey: key) != nil {
                throw JSONSyntaxError(message: "duplicate key \"\(key)\"", offset: keyOffset - start)
            }
            skipWhitespace()
            if consume(UInt8(ascii: ",")) { continue }
            if consume(UInt8(ascii: "}")) { return .object(members) }
            throw error("expected ',' or '}'")
        }
    }

    private mutating func array() throws -> JSONValue {
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

    private mutating func string() throws -> String {
        i += 1  // opening quote
        let contentStart = i
        // Fast path: no escapes, so the bytes are the string.
        while i < end, bytes[i] != ASCII.quote, bytes[i] != UInt8(ascii: "\\"), bytes[i] >= 0x20 {
            i += 1
        }
        if i < end, bytes[i] == ASCII.quote {
            i += 1
            return decodeChecked(bytes[contentStart..<(i - 1)])
        }
        var out = Array(bytes[contentStart..<i])
        while true {
            guard i < end else { throw error("unterminated string") }
            let byte = bytes[i]
            switch byte {
            case ASCII.quote:
                i += 1
                return String(decoding: out, as: UTF8.self)
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

    private mutating func escape(into out: inout [UInt8]) throws {
        i += 1  // backslash
        guard i < end else { throw error("unterminated string") }
        let code = bytes[i]
        i += 1
        switch code {
        case ASCII.quote, UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(code)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(ASCII.newline)
        case UInt8(ascii: "r"): out.append(ASCII.carriageReturn)
        case UInt8(ascii: "t"): out.append(ASCII.tab)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            // A high surrogate must be followed by \u and a low surrogate.
            if (0xD800...0xDBFF).contains(scalar) {
                guard i + 1 < end, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                    throw error("unpaired surrogate in \\u escape")
                }
                i += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate in \\u escape") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw error("unpaired surrogate in \\u escape")
            }
            out.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
        default:
            i -= 1
            throw error("invalid escape character \(characterHere()) after '\\'")
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard i + 4 <= end else { throw error("expected four hex digits after \\u") }
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
    private mutating func number() throws -> JSONValue {
        let numberStart = i
        _ = consume(UInt8(ascii: "-"))
        if consume(UInt8(ascii: "0")) {
            if i < end, isDigit(bytes[i]) { throw error("leading zero in number") }
        } else {
            guard digits() > 0 else { throw error("expected a digit") }
        }
        if consume(UInt8(ascii: ".")) {
            guard digits() > 0 else { throw error("expected a digit after '.'") }
        }
        if i < end, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < end, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { throw error("expected a digit in exponent") }
        }
        let text = decodeChecked(bytes[numberStart..<i])
        // The grammar above is a subset of what Double parses; huge exponents give ±infinity.
        guard let value = Double(text), value.isFinite else {
            throw JSONSyntaxError(message: "number out of range", offset: numberStart - start)
        }
        return .number(value, text: text)
    }

    private mutating func digits() -> Int {
        let from = i
        while i < end, isDigit(bytes[i]) { i += 1 }
        return i - from
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private mutating func literal(_ word: StaticString) throws {
        let count = word.utf8CodeUnitCount
        let matches = i + count <= end && (0..<count).allSatisfy { bytes[i + $0] == word.utf8Start[$0] }
        guard matches else { throw error("invalid literal (expected \(word))") }
        i += count
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard i < end, bytes[i] == byte else { return false }
        i += 1
        return true
    }

    private mutating func skipWhitespace() {
        while i < end, bytes[i] == 0x20 || bytes[i] == ASCII.tab || bytes[i] == ASCII.newline
                || bytes[i] == ASCII.carriageReturn {
            i += 1
        }
    }

    // The (valid UTF-8) character at the cursor, quoted, for messages.
    private func characterHere() -> String {
        let character = decodeChecked(bytes[i..<min(i + 4, end)]).first.map(String.init) ?? ""
        return "'\(character)'"
    }

    private func error(_ message: String) -> JSONSyntaxError {
        JSONSyntaxError(message: message, offset: i - start)
    }
}
