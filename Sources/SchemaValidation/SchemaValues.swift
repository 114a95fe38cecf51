import Foundation
import JSON

/// What the validator asks of a JSON value beyond the JSON module: JSON Schema's number rules
/// (`integer` also accepts a real with no fractional part; 1 equals 1.0), how messages quote a
/// value, and the Foundation form `loadYAMLAsJSON` hands out and `validate(_:)` takes.
extension JSONValue {
    /// A non-negative integer (a length or count keyword), also when written as 3.0.
    var count: Int? {
        guard let n = number else { return nil }
        if let i = n.int { return i >= 0 ? i : nil }
        let d = n.value
        return d >= 0 && d == d.rounded() && d < 1e18 ? Int(d) : nil
    }

    /// JSON Schema equality (enum, const, uniqueItems): 1 equals 1.0; object key order does not count.
    func sameValue(as other: JSONValue) -> Bool {
        switch (self, other) {
        case let (.array(a), .array(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.sameValue(as: $1) }
        case let (.object(a), .object(b)):
            return Set(a.keys) == Set(b.keys) && a.members.allSatisfy { key, value in value.sameValue(as: b[key]!) }
        default:
            if let x = number?.value, let y = other.number?.value { return x == y }
            return self == other
        }
    }

    /// How messages quote a value: strings bare (`expected one of lower, upper`), the rest as JSON.
    var brief: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return String(b)
        case .number(let n): return n.int.map(String.init) ?? formatNumber(n.value)
        case .string(let s): return s
        case .array(let a): return "[" + a.map(\.brief).joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.members.map { "\($0.key): \($0.value.brief)" }.joined(separator: ", ") + "}"
        }
    }

    /// The Foundation form `loadYAMLAsJSON` hands out: [String: Any], [Any], String, Int, Double, Bool, NSNull.
    var any: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let b): return b
        case .number(let n): return n.int.map { $0 as Any } ?? n.value
        case .string(let s): return s
        case .array(let a): return a.map(\.any)
        case .object(let o): return Dictionary(uniqueKeysWithValues: o.members.map { ($0.key, $0.value.any) })
        }
    }

    /// A Foundation value as JSON. Dictionaries have no order, so their keys are taken sorted;
    /// NSNumber (what JSONSerialization returns) is told apart by its stored type. Throws for
    /// something JSON cannot hold (a Date, a Data…), naming where it is.
    init(any value: Any, at path: String = "") throws(NotJSON) {
        switch value {
        case is NSNull: self = .null
        case let n as NSNumber where type(of: value) is NSNumber.Type:
            switch String(cString: n.objCType) {
            case "c", "B": self = .bool(n.boolValue)
            case "f", "d": self = .number(JSONNumber(n.doubleValue))
            default: self = .number(JSONNumber(n.intValue))
            }
        case let b as Bool: self = .bool(b)
        case let i as Int: self = .number(JSONNumber(i))
        case let i as Int64: self = .number(JSONNumber(Int(i)))
        case let i as Int32: self = .number(JSONNumber(Int(i)))
        case let i as UInt64 where i <= UInt64(Int.max): self = .number(JSONNumber(Int(i)))
        case let d as Double: self = .number(JSONNumber(d))
        case let f as Float: self = .number(JSONNumber(Double(f)))
        case let s as String: self = .string(s)
        case let s as Substring: self = .string(String(s))
        case let a as [Any]:
            self = .array(try a.enumerated().map { (i, item) throws(NotJSON) in try JSONValue(any: item, at: indexPath(path, i)) })
        case let d as [String: Any]:
            self = .object(try Self.object(d.map { ($0.key, $0.value) }, at: path))
        case let d as [AnyHashable: Any]:
            self = .object(try Self.object(d.map { (String(describing: $0.key.base), $0.value) }, at: path))
        default:
            throw NotJSON(path: path, type: String(describing: type(of: value)))
        }
    }

    /// Members sorted by key; of keys that print the same (1 and "1"), the first sorted.
    private static func object(_ pairs: [(String, Any)], at path: String) throws(NotJSON) -> JSONObject {
        var object = JSONObject()
        for (key, value) in pairs.sorted(by: { $0.0 < $1.0 }) {
            object.append(key, try JSONValue(any: value, at: keyPath(path, key)))
        }
        return object
    }
}

/// A value handed to `validate(_:)` that JSON cannot hold (a Date, a Data…): where, and its type.
struct NotJSON: Error {
    let path: String
    let type: String

    var violation: SchemaViolation { SchemaViolation(path: path, message: "a \(type) is not a JSON value") }
}

/// 3 for 3.0, else Swift's shortest round-trip form (0.5, 5e-05).
func formatNumber(_ d: Double) -> String {
    if d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) }
    return String(d)
}
