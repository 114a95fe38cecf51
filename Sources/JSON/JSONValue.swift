/// A JSON value (RFC 8259) as every reader of ours holds it: numbers keep the text they were
/// written with beside their Double (an id such as 12345678901234567890 survives exactly; `1`,
/// `1.0` and `1e0` stay apart), and objects keep their members in the order written.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The kind's name for messages: "null", "boolean", "number", "string", "array", "object".
    public var kind: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// The kind with its article, for "found an array": "null", "a boolean", "an object"…
    public var kindWithArticle: String {
        switch self {
        case .null: return kind
        case .array, .object: return "an " + kind
        default: return "a " + kind
        }
    }

    public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var number: JSONNumber? { if case .number(let n) = self { return n } else { return nil } }
    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var array: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var object: JSONObject? { if case .object(let o) = self { return o } else { return nil } }
}

/// A number: its text, its value as a Double, and whether it was written as an integer.
public struct JSONNumber: Equatable, Sendable {
    /// As written in the JSON text (`-0`, `1.5e3`, `18446744073709551615`); for a number made from
    /// a Swift value, its decimal form (`String(3)`, `String(0.5)`).
    public let text: String
    /// The nearest Double; always finite when parsed.
    public let value: Double
    /// Written without a fraction or an exponent (`3`, not `3.0` or `3e0`).
    public let isInteger: Bool

    /// The exact value of an integer that fits in `Int`; nil for `1.0`, `1e3` and 20-digit integers.
    public var int: Int? { isInteger ? Int(text) : nil }
}

extension JSONNumber {
    public init(_ integer: Int) {
        self.init(text: String(integer), value: Double(integer), isInteger: true)
    }

    public init(_ real: Double) {
        self.init(text: String(real), value: real, isInteger: false)
    }
}

/// A JSON object: its members in the order written, each key once, looked up by key.
public struct JSONObject: Equatable, Sendable, ExpressibleByDictionaryLiteral {
    public private(set) var members: [(key: String, value: JSONValue)] = []
    /// Key → position, built once an object outgrows a short scan (most rows and entries have a few keys).
    private var index: [String: Int]?
    private static let scanned = 16

    public init() {}

    /// Members from unique keys, in this order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        for (key, value) in elements { precondition(append(key, value), "duplicate key \(key)") }
    }

    public var keys: [String] { members.map(\.key) }
    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }

    public subscript(key: String) -> JSONValue? {
        position(of: key).map { members[$0].value }
    }

    /// Adds a member at the end; returns false, changing nothing, when `key` is already there.
    @discardableResult
    public mutating func append(_ key: String, _ value: JSONValue) -> Bool {
        guard position(of: key) == nil else { return false }
        members.append((key, value))
        if index != nil {
            index![key] = members.count - 1
        } else if members.count > Self.scanned {
            index = Dictionary(uniqueKeysWithValues: members.enumerated().map { ($1.key, $0) })
        }
        return true
    }

    private func position(of key: String) -> Int? {
        if let index { return index[key] }
        return members.firstIndex { $0.key == key }
    }

    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.members.count == b.members.count && zip(a.members, b.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}
