import BoundedYAML
import Foundation
import JSON
import Yams

/// Why a schema or a YAML file could not be used.
public enum SchemaError: Error, CustomStringConvertible, Equatable {
    /// The file cannot be read.
    case unreadable(String)
    /// The text is not YAML (or JSON), or holds something JSON cannot (a duplicate key).
    case invalidYAML(String)
    /// The schema uses a keyword this validator does not implement, or a keyword is malformed.
    case invalidSchema(String)

    public var description: String {
        switch self {
        case .unreadable(let why): return "cannot read: \(why)"
        case .invalidYAML(let why): return "invalid YAML: \(why)"
        case .invalidSchema(let why): return "invalid schema: \(why)"
        }
    }
}

/// A YAML file (within BoundedYAML's limits: size, depth, expanded aliases) as JSON-like Foundation values: [String: Any], [Any], String, Int, Double, Bool and
/// NSNull (an empty file is NSNull). Plain scalars take Yams' YAML 1.1 types, with two exceptions
/// that YAML 1.2 also makes: `1:2` (sexagesimal in 1.1) stays a string, so that a layer mapping
/// reads as written, and a timestamp stays its text. Duplicate keys are refused.
public func loadYAMLAsJSON(_ url: URL) throws -> Any {
    try loadYAMLValue(url).any
}

/// The same from text.
public func loadYAMLAsJSON(string text: String) throws -> Any {
    try yamlValue(text, origin: "YAML text").any
}

func loadYAMLValue(_ url: URL) throws -> JSONValue {
    let text: String
    do { text = try BoundedYAML.read(url) } catch let error as BoundedYAML.Failure { throw SchemaError.invalidYAML("\(error)") } catch {
        throw SchemaError.unreadable("\(url.path): \(error.localizedDescription)")
    }
    return try yamlValue(text, origin: url.path)
}

func yamlValue(_ text: String, origin: String) throws -> JSONValue {
    let node: Node?
    do { node = try BoundedYAML.compose(text, origin: origin) } catch { throw SchemaError.invalidYAML("\(error)") }
    guard let node else { return .null }
    return try jsonValue(node, path: "", origin: origin)
}

private func jsonValue(_ node: Node, path: String, origin: String) throws -> JSONValue {
    switch node {
    case .scalar(let scalar):
        return scalarValue(scalar, tag: node.tag.description)
    case .sequence(let sequence):
        return .array(try sequence.enumerated().map { try jsonValue($1, path: indexPath(path, $0), origin: origin) })
    case .mapping(let mapping):
        var object = JSONObject()
        var merged: [(key: String, value: JSONValue)] = []
        for (keyNode, valueNode) in mapping {
            // `<<: *anchor` (YAML merge keys): the anchored mappings' keys, unless given here.
            if keyNode.tag.description == Tag.Name.merge.rawValue {
                let sources = valueNode.sequence.map(Array.init) ?? [valueNode]
                for source in sources {
                    guard case .object(let o) = try jsonValue(source, path: path, origin: origin) else {
                        throw SchemaError.invalidYAML("\(origin): \(path.isEmpty ? "top level" : path): `<<` must merge mappings")
                    }
                    merged += o.members
                }
                continue
            }
            let key = keyNode.string ?? String(describing: keyNode.any)
            guard object[key] == nil else {
                throw SchemaError.invalidYAML("\(origin): \(keyPath(path, key)) is given twice")
            }
            object.append(key, try jsonValue(valueNode, path: keyPath(path, key), origin: origin))
        }
        // Keys given here win over merged ones, and earlier merged mappings over later ones.
        for (key, value) in merged { object.append(key, value) }
        return .object(object)
    }
}

private func scalarValue(_ scalar: Node.Scalar, tag: String) -> JSONValue {
    let text = scalar.string
    switch tag {
    case Tag.Name.null.rawValue:
        return .null
    case Tag.Name.bool.rawValue:
        return Bool.construct(from: scalar).map(JSONValue.bool) ?? .string(text)
    case Tag.Name.int.rawValue where !text.contains(":"):
        if let i = Int.construct(from: scalar) { return .number(JSONNumber(i)) }
        return Double.construct(from: scalar).map { .number(JSONNumber($0)) } ?? .string(text)
    case Tag.Name.float.rawValue where !text.contains(":"):
        return Double.construct(from: scalar).map { .number(JSONNumber($0)) } ?? .string(text)
    default:
        return .string(text)
    }
}

/// `a.b`, `b` at the top level, `a["odd key"]` for keys that are not plain words.
func keyPath(_ path: String, _ key: String) -> String {
    let plain = !key.isEmpty && key.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "-" }
    if !plain { return path + "[\"" + key.replacingOccurrences(of: "\"", with: "\\\"") + "\"]" }
    return path.isEmpty ? key : path + "." + key
}

func indexPath(_ path: String, _ index: Int) -> String { path + "[\(index)]" }
