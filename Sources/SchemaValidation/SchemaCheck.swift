import Foundation
import JSON

/// Checks a schema once, when it is loaded: every keyword is one the validator implements (or an
/// annotation), every `$ref` resolves, every pattern compiles. A keyword the validator would skip
/// makes loading fail, so the schema never promises a check that does not happen.
struct SchemaCheck {
    let root: JSONValue

    static let annotations: Set<String> = ["$schema", "$id", "$comment", "title", "description", "default", "examples",
                                           "deprecated", "readOnly", "writeOnly", "format"]
    /// Keywords whose value is one schema, a list of schemas, or a name → schema mapping.
    static let oneSchema: Set<String> = ["additionalProperties", "propertyNames", "items"]
    static let schemaLists: Set<String> = ["allOf", "anyOf", "oneOf"]
    static let schemaMaps: Set<String> = ["properties", "$defs", "definitions"]
    static let numbers: Set<String> = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]
    static let counts: Set<String> = ["minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"]

    func check(_ schema: JSONValue, at location: String, patterns: inout [String: NSRegularExpression]) throws {
        func fail(_ why: String) -> SchemaError { .invalidSchema("\(location): \(why)") }
        if case .bool = schema { return }
        guard case .object(let s) = schema else { throw fail("a schema must be an object or true/false") }
        for key in s.keys {
            let value = s[key]!
            let here = location + "/" + key
            switch key {
            case _ where Self.oneSchema.contains(key):
                if key == "items", value.array != nil { throw fail("`items` as a list (draft-07 tuples) is not supported") }
                try check(value, at: here, patterns: &patterns)
            case _ where Self.schemaLists.contains(key):
                guard let list = value.array, !list.isEmpty else { throw fail("`\(key)` must be a non-empty list of schemas") }
                for (i, branch) in list.enumerated() { try check(branch, at: "\(here)/\(i)", patterns: &patterns) }
            case _ where Self.schemaMaps.contains(key):
                guard let map = value.object else { throw fail("`\(key)` must map names to schemas") }
                for name in map.keys { try check(map[name]!, at: "\(here)/\(name)", patterns: &patterns) }
            case _ where Self.numbers.contains(key):
                guard value.number != nil else { throw fail("`\(key)` must be a number (draft-04 booleans are not supported)") }
            case _ where Self.counts.contains(key):
                guard value.count != nil else { throw fail("`\(key)` must be a non-negative integer") }
            case "$ref":
                guard let ref = value.string, resolvePointer(ref, in: root) != nil else {
                    throw fail("`$ref` \(value.brief) does not point within this file (expected #/$defs/NAME)")
                }
            case "type":
                let known: Set<String> = ["null", "boolean", "string", "array", "object", "integer", "number"]
                let names = value.array?.map { $0.string ?? "" } ?? [value.string ?? ""]
                guard let bad = names.first(where: { !known.contains($0) }) else { break }
                throw fail("unknown type '\(bad)'")
            case "enum":
                guard value.array != nil else { throw fail("`enum` must be a list") }
            case "required":
                guard let list = value.array, list.allSatisfy({ $0.string != nil }) else { throw fail("`required` must be a list of names") }
            case "uniqueItems":
                guard value.bool != nil else { throw fail("`uniqueItems` must be true or false") }
            case "pattern":
                guard let pattern = value.string else { throw fail("`pattern` must be a string") }
                do { patterns[pattern] = try NSRegularExpression(pattern: pattern) } catch { throw fail("pattern \(pattern) does not compile: \(error)") }
            case "const":
                break
            case _ where Self.annotations.contains(key):
                break
            default:
                throw fail("keyword '\(key)' is not supported by this validator")
            }
        }
    }
}
