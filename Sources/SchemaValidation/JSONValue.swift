import Foundation

/// A JSON value as the validator sees it: integers and reals kept apart (JSON Schema's `integer`
/// also accepts a real with no fractional part), objects in the order their keys were written.
enum JSONValue: Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
    /// Something `validate(_:)` was handed that JSON cannot hold (a Date, a Data…), by type name.
    case unsupported(String)

    var object: JSONObject? { if case .object(let o) = self { return o }; return nil }
    var array: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    var string: String? { if case .string(let s) = self { return s }; return nil }
    var bool: Bool? { if case .bool(let b) = self { return b }; return nil }

    /// Both kinds of number as a Double, for bounds.
    var number: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    /// A non-negative integer (a length or count keyword), also when written as 3.0.
    var count: Int? {
        switch self {
        case .int(let i) where i >= 0: return i
        case .double(let d) where d >= 0 && d == d.rounded() && d < 1e18: return Int(d)
        default: return nil
        }
    }

    /// JSON Schema equality (enum, const, uniqueItems): 1 equals 1.0; object key order does not count.
    func sameValue(as other: JSONValue) -> Bool {
        switch (self, other) {
        case let (.array(a), .array(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.sameValue(as: $1) }
        case let (.object(a), .object(b)):
            return Set(a.keys) == Set(b.keys) && a.keys.allSatisfy { a[$0]!.sameValue(as: b[$0]!) }
        default:
            if let x = number, let y = other.number { return x == y }
            return self == other
        }
    }

    /// How messages quote a value: strings bare (`expected one of lower, upper`), the rest as JSON.
    var brief: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return String(b)
        case .int(let i): return String(i)
        case .double(let d): return formatNumber(d)
        case .string(let s): return s
        case .array(let a): return "[" + a.map(\.brief).joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.keys.map { "\($0): \(o[$0]!.brief)" }.joined(separator: ", ") + "}"
        case .unsupported(let type): return "a \(type)"
        }
    }

    /// The Foundation form `loadYAMLAsJSON` hands out: [String: Any], [Any], String, Int, Double, Bool, NSNull.
    var any: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let b): return b
        case .int(let i): return i
        case .double(let d): return d
        case .string(let s): return s
        case .array(let a): return a.map(\.any)
        case .object(let o): return Dictionary(uniqueKeysWithValues: o.keys.map { ($0, o[$0]!.any) })
        case .unsupported(let type): return type
        }
    }

    /// A Foundation value as JSON. Dictionaries have no order, so their keys are taken sorted;
    /// NSNumber (what JSONSerialization returns) is told apart by its stored type.
    init(any value: Any) {
        switch value {
        case is NSNull: self = .null
        case let n as NSNumber where type(of: value) is NSNumber.Type:
            switch String(cString: n.objCType) {
            case "c", "B": self = .bool(n.boolValue)
            case "f", "d": self = .double(n.doubleValue)
            default: self = .int(n.intValue)
            }
        case let b as Bool: self = .bool(b)
        case let i as Int: self = .int(i)
        case let i as Int64: self = .int(Int(i))
        case let i as Int32: self = .int(Int(i))
        case let i as UInt64 where i <= UInt64(Int.max): self = .int(Int(i))
        case let d as Double: self = .double(d)
        case let f as Float: self = .double(Double(f))
        case let s as String: self = .string(s)
        case let s as Substring: self = .string(String(s))
        case let a as [Any]: self = .array(a.map(JSONValue.init(any:)))
        case let d as [String: Any]:
            self = .object(JSONObject(d.keys.sorted().map { ($0, JSONValue(any: d[$0]!)) }))
        case let d as [AnyHashable: Any]:
            let pairs = d.map { (String(describing: $0.key.base), $0.value) }.sorted { $0.0 < $1.0 }
            self = .object(JSONObject(pairs.map { ($0.0, JSONValue(any: $0.1)) }))
        default: self = .unsupported(String(describing: type(of: value)))
        }
    }
}

/// A JSON object that remembers the order of its keys (messages list known keys as the schema does).
struct JSONObject: Equatable {
    private(set) var keys: [String] = []
    private var values: [String: JSONValue] = [:]

    init(_ pairs: [(String, JSONValue)] = []) {
        for (key, value) in pairs { self[key] = value }
    }

    subscript(key: String) -> JSONValue? {
        get { values[key] }
        set {
            if values[key] == nil, newValue != nil { keys.append(key) }
            if newValue == nil { keys.removeAll { $0 == key } }
            values[key] = newValue
        }
    }
}

/// 3 for 3.0, else Swift's shortest round-trip form (0.5, 5e-05).
func formatNumber(_ d: Double) -> String {
    if d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) }
    return String(d)
}
