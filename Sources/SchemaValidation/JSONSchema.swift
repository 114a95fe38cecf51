import Foundation
import JSON

/// One reason a value does not conform: where (`students[3].objectives.attention_kl`, "" for the
/// top level) and what is wrong (`expected a number`).
public struct SchemaViolation: Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// A JSON Schema (draft 2020-12 or draft-07 wording) read from a JSON or YAML file, checking values
/// against the subset of keywords Distillery's schemas use:
///
/// - `type` (`integer` is a number with no fractional part), `enum`, `const`;
/// - objects: `properties`, `required`, `additionalProperties` (false or a schema), `propertyNames`,
///   `minProperties`, `maxProperties`;
/// - arrays: `items` (one schema for every item), `minItems`, `maxItems`, `uniqueItems`;
/// - numbers: `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum` (numeric, as in 2020-12);
/// - strings: `minLength`, `maxLength`, `pattern` (unanchored, as in JSON Schema; ICU syntax);
/// - `allOf`, `anyOf`, `oneOf`, and `$ref` to a JSON pointer within the same file (`#/$defs/x`,
///   `#/definitions/x`, `#/$defs/x/properties/y`), applied beside its sibling keywords as in 2020-12.
///
/// Annotations (`title`, `description`, `default`, `examples`, `$comment`, `format`…) are ignored;
/// any other keyword makes `init` throw rather than be skipped in silence.
public struct JSONSchema {
    let root: JSONValue
    let patterns: [String: NSRegularExpression]

    /// A schema from a `.json` (or YAML) file.
    public init(contentsOf url: URL) throws {
        try self.init(root: try loadYAMLValue(url))
    }

    /// A schema from JSON (or YAML) text.
    public init(text: String) throws {
        try self.init(root: try yamlValue(text, origin: "schema"))
    }

    init(root: JSONValue) throws {
        self.root = root
        var patterns: [String: NSRegularExpression] = [:]
        try SchemaCheck(root: root).check(root, at: "#", patterns: &patterns)
        self.patterns = patterns
    }

    /// Every violation of `value` (JSON-like Foundation values, e.g. from `loadYAMLAsJSON`), in the
    /// order of the schema's keywords; empty when it conforms. Dictionaries have no key order, so
    /// keys outside the schema are reported sorted.
    public func validate(_ value: Any) -> [SchemaViolation] {
        do { return validate(value: try JSONValue(any: value)) } catch { return [error.violation] }
    }

    /// Every violation of a YAML (or JSON) file, keys in the order the file writes them.
    public func validate(contentsOf url: URL) throws -> [SchemaViolation] {
        validate(value: try loadYAMLValue(url))
    }

    /// Every violation of `value` against one part of the schema, named by a `$ref`-style pointer
    /// (`#/$defs/trainSpec`): a block checked on its own, e.g. the `train:` block of a student list.
    public func validate(_ value: Any, against ref: String) throws -> [SchemaViolation] {
        guard let part = resolvePointer(ref, in: root) else { throw SchemaError.invalidSchema("\(ref) is not in the schema") }
        do { return validate(value: try JSONValue(any: value), against: part) } catch { return [error.violation] }
    }

    func validate(value: JSONValue, against part: JSONValue? = nil) -> [SchemaViolation] {
        Validator(root: root, patterns: patterns).check(value, against: part ?? root, at: "", depth: 0).map(\.violation)
    }
}

/// A violation while it is being found; `mismatch` marks a value of the wrong kind altogether (wrong
/// type, not in the enum, not matching the pattern), which is how `oneOf` tells the alternatives
/// the value was meant for from the ones it was not.
struct Finding {
    var violation: SchemaViolation
    var mismatch: Bool

    init(_ path: String, _ message: String, mismatch: Bool = false) {
        violation = SchemaViolation(path: path, message: message)
        self.mismatch = mismatch
    }
}

/// Checks values; one per `validate` call.
struct Validator {
    let root: JSONValue
    let patterns: [String: NSRegularExpression]

    func check(_ value: JSONValue, against schema: JSONValue, at path: String, depth: Int) -> [Finding] {
        guard case .object(let s) = schema else {
            return schema == .bool(false) ? [Finding(path, "not allowed here", mismatch: true)] : []
        }
        guard depth < 100 else { return [Finding(path, "the schema's $refs loop without end")] }
        var found: [Finding] = []

        if let ref = s["$ref"]?.string, let target = resolvePointer(ref, in: root) {
            found += check(value, against: target, at: path, depth: depth + 1)
        }
        if let types = s["type"], !matches(value, types: types) {
            return found + [Finding(path, "expected " + describe(types: types), mismatch: true)]
        }
        if let options = s["enum"]?.array, !options.contains(where: { $0.sameValue(as: value) }) {
            let listed = options.map(\.brief)
            found.append(Finding(path, listed.count == 1 ? "expected \(listed[0])" : "expected one of " + listed.joined(separator: ", "), mismatch: true))
        }
        if let constant = s["const"], !constant.sameValue(as: value) {
            found.append(Finding(path, "expected \(constant.brief)", mismatch: true))
        }

        switch value {
        case .object(let o): found += checkObject(o, s, path, depth)
        case .array(let a): found += checkArray(a, s, path, depth)
        case .number(let n): found += checkNumber(n.value, s, path)
        case .string(let text): found += checkString(text, s, path)
        default: break
        }

        for branch in s["allOf"]?.array ?? [] {
            found += check(value, against: branch, at: path, depth: depth + 1)
        }
        if let branches = s["anyOf"]?.array {
            found += alternatives(branches, exactlyOne: false, value, path, depth)
        }
        if let branches = s["oneOf"]?.array {
            found += alternatives(branches, exactlyOne: true, value, path, depth)
        }
        return found
    }

    // MARK: Keywords by kind of value

    private func checkObject(_ o: JSONObject, _ s: JSONObject, _ path: String, _ depth: Int) -> [Finding] {
        var found: [Finding] = []
        let properties = s["properties"]?.object ?? JSONObject()
        for key in s["required"]?.array?.compactMap(\.string) ?? [] where o[key] == nil {
            found.append(Finding(path, "missing required key '\(key)'"))
        }
        if let n = s["minProperties"]?.count, o.keys.count < n {
            found.append(Finding(path, "expected at least \(n) \(n == 1 ? "key" : "keys")"))
        }
        if let n = s["maxProperties"]?.count, o.keys.count > n {
            found.append(Finding(path, "expected at most \(n) \(n == 1 ? "key" : "keys")"))
        }
        if let names = s["propertyNames"] {
            for key in o.keys {
                for f in check(.string(key), against: names, at: path, depth: depth + 1) {
                    found.append(Finding(path, "key '\(key)': \(f.violation.message)"))
                }
            }
        }
        // Known keys in the schema's order, then the others in the value's.
        for key in properties.keys where o[key] != nil {
            found += check(o[key]!, against: properties[key]!, at: keyPath(path, key), depth: depth + 1)
        }
        let extra = o.keys.filter { properties[$0] == nil }
        switch s["additionalProperties"] {
        case .bool(false)?:
            for key in extra {
                let known = properties.keys.isEmpty ? "none" : properties.keys.joined(separator: ", ")
                found.append(Finding(path, "unknown key '\(key)' (known: \(known))"))
            }
        case let rule?:
            for key in extra { found += check(o[key]!, against: rule, at: keyPath(path, key), depth: depth + 1) }
        case nil:
            break
        }
        return found
    }

    private func checkArray(_ a: [JSONValue], _ s: JSONObject, _ path: String, _ depth: Int) -> [Finding] {
        var found: [Finding] = []
        if let n = s["minItems"]?.count, a.count < n {
            found.append(Finding(path, n == 1 ? "expected at least one item" : "expected at least \(n) items"))
        }
        if let n = s["maxItems"]?.count, a.count > n {
            found.append(Finding(path, "expected at most \(n) \(n == 1 ? "item" : "items")"))
        }
        if s["uniqueItems"]?.bool == true {
            for j in a.indices {
                if let i = a[..<j].firstIndex(where: { $0.sameValue(as: a[j]) }) {
                    found.append(Finding(indexPath(path, j), "repeats \(a[j].brief) (already at [\(i)])"))
                }
            }
        }
        if let items = s["items"] {
            for (i, item) in a.enumerated() { found += check(item, against: items, at: indexPath(path, i), depth: depth + 1) }
        }
        return found
    }

    private func checkNumber(_ x: Double, _ s: JSONObject, _ path: String) -> [Finding] {
        var found: [Finding] = []
        let shown = formatNumber(x)
        if let m = s["minimum"]?.number?.value, !(x >= m) { found.append(Finding(path, "must be at least \(formatNumber(m)), not \(shown)")) }
        if let m = s["exclusiveMinimum"]?.number?.value, !(x > m) { found.append(Finding(path, "must be greater than \(formatNumber(m)), not \(shown)")) }
        if let m = s["maximum"]?.number?.value, !(x <= m) { found.append(Finding(path, "must be at most \(formatNumber(m)), not \(shown)")) }
        if let m = s["exclusiveMaximum"]?.number?.value, !(x < m) { found.append(Finding(path, "must be less than \(formatNumber(m)), not \(shown)")) }
        return found
    }

    private func checkString(_ text: String, _ s: JSONObject, _ path: String) -> [Finding] {
        var found: [Finding] = []
        let length = text.unicodeScalars.count
        if let n = s["minLength"]?.count, length < n {
            found.append(Finding(path, length == 0 ? "must not be empty" : "must be at least \(n) characters long"))
        }
        if let n = s["maxLength"]?.count, length > n { found.append(Finding(path, "must be at most \(n) characters long")) }
        if let pattern = s["pattern"]?.string, let regex = patterns[pattern],
           regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil {
            // Escaped and cut: the value may be hostile (a newline, 10,000 characters).
            let plain = text.count <= 80 && !text.unicodeScalars.contains { $0.properties.generalCategory == .control }
            let shown = plain ? "'\(text)'" : String(text.prefix(80)).debugDescription + (text.count > 80 ? "… (\(text.utf8.count) bytes)" : "")
            found.append(Finding(path, "\(shown) does not match \(pattern)", mismatch: true))
        }
        return found
    }

    // MARK: oneOf / anyOf

    /// The alternatives of `oneOf` (exactly one must hold) or `anyOf` (at least one). When none
    /// holds, the findings of the one alternative the value has the shape of (right type, in its
    /// enum) are reported as they are; otherwise a single line names what was expected, by the
    /// alternatives' titles where they have them.
    private func alternatives(_ branches: [JSONValue], exactlyOne: Bool, _ value: JSONValue, _ path: String, _ depth: Int) -> [Finding] {
        let results = branches.map { check(value, against: $0, at: path, depth: depth + 1) }
        let holding = results.indices.filter { results[$0].isEmpty }
        let names = branches.enumerated().map { i, branch in branch.object?["title"]?.string ?? "alternative \(i + 1)" }
        if exactlyOne ? holding.count == 1 : !holding.isEmpty { return [] }
        if !holding.isEmpty {
            return [Finding(path, "matches more than one of: " + holding.map { names[$0] }.joined(separator: "; ") + " (expected exactly one)")]
        }
        let shaped = results.indices.filter { i in !results[i].contains { $0.mismatch && $0.violation.path == path } }
        if shaped.count == 1 { return results[shaped[0]] }
        let candidates = shaped.isEmpty ? Array(results.indices) : shaped
        let message: String
        if candidates.allSatisfy({ branches[$0].object?["title"]?.string != nil }) {
            message = "expected " + candidates.map { names[$0] }.joined(separator: ", or ")
        } else {
            let first = { (i: Int) in results[i][0].violation.path == path ? results[i][0].violation.message : results[i][0].violation.description }
            message = "matches none of the alternatives: " + candidates.map { "\(names[$0]): \(first($0))" }.joined(separator: "; ")
        }
        return [Finding(path, message, mismatch: shaped.isEmpty)]
    }

    // MARK: Types

    private func matches(_ value: JSONValue, types: JSONValue) -> Bool {
        let names = types.array?.compactMap(\.string) ?? types.string.map { [$0] } ?? []
        return names.contains { name in
            switch (name, value) {
            case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object), ("number", .number):
                return true
            case ("integer", .number(let n)):
                return n.isInteger || (n.value == n.value.rounded() && n.value.isFinite)
            default:
                return false
            }
        }
    }

    private func describe(types: JSONValue) -> String {
        let names = types.array?.compactMap(\.string) ?? types.string.map { [$0] } ?? []
        let words: [String: String] = ["null": "null", "boolean": "true or false", "string": "a string", "array": "a list",
                                       "object": "a mapping", "integer": "an integer", "number": "a number"]
        return names.map { words[$0] ?? $0 }.joined(separator: " or ")
    }
}

/// The value a `$ref` within the same document points at: `#`, or `#/` and a JSON pointer
/// (RFC 6901: `~1` is '/', `~0` is '~'; percent-escapes as in a URI fragment).
func resolvePointer(_ ref: String, in root: JSONValue) -> JSONValue? {
    guard ref.hasPrefix("#") else { return nil }
    let pointer = String(ref.dropFirst()).removingPercentEncoding ?? String(ref.dropFirst())
    if pointer.isEmpty { return root }
    guard pointer.hasPrefix("/") else { return nil }
    var node = root
    for raw in pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
        let token = raw.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        switch node {
        case .object(let o): guard let next = o[token] else { return nil }; node = next
        case .array(let a): guard let i = Int(token), a.indices.contains(i) else { return nil }; node = a[i]
        default: return nil
        }
    }
    return node
}
