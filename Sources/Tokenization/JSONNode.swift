import Foundation
import JSON

/// A parsed JSON value with the key path that reached it, so that every error names the file and
/// the key ("model.merges[12]"). Parsed by the package's strict, bounded `JSONParser` (a
/// duplicate key is an error; keys compare as Swift strings, so two canonically equivalent
/// tokens in one vocabulary object count as a duplicate).
struct JSONNode {
    /// Nesting allowed in tokenizer files (real tokenizer.json files nest under 10 deep).
    static let maxDepth = 64

    let value: JSONValue
    let path: String
    let file: URL

    /// Reads and parses `file`, refused over `limit` bytes (`TokenizerFileLimits`).
    init(reading file: URL, limit: Int) throws {
        let data = try TokenizerFileLimits.read(file, limit: limit)
        do {
            value = try JSONParser.parse([UInt8](data), limits: JSONLimits(maxBytes: limit, maxDepth: Self.maxDepth))
        } catch {
            throw TokenizerError.invalidFile(file, reason: "not JSON: \(error)")
        }
        path = "(top level)"
        self.file = file
    }

    private init(value: JSONValue, path: String, file: URL) {
        (self.value, self.path, self.file) = (value, path, file)
    }

    func invalid(_ reason: String) -> TokenizerError { .invalidFile(file, reason: "\(path): \(reason)") }
    func unsupported(_ reason: String) -> TokenizerError { .unsupported(file, reason: "\(path): \(reason)") }

    var isNull: Bool { value == .null }

    /// The value at `key`, which must be there (null counts as there).
    func child(_ key: String) throws -> JSONNode {
        guard let node = try optionalChild(key, keepingNull: true) else { throw invalid("missing key \"\(key)\"") }
        return node
    }

    /// The value at `key`, nil when absent or null.
    func optional(_ key: String) throws -> JSONNode? {
        try optionalChild(key, keepingNull: false)
    }

    private func optionalChild(_ key: String, keepingNull: Bool) throws -> JSONNode? {
        guard let object = value.object else { throw invalid("expected an object, found \(value.kindWithArticle)") }
        guard let child = object[key], keepingNull || child != .null else { return nil }
        return JSONNode(value: child, path: childPath(key), file: file)
    }

    private func childPath(_ key: String) -> String {
        path == "(top level)" ? key : "\(path).\(key)"
    }

    func string() throws -> String {
        guard let string = value.string else { throw invalid("expected a string, found \(value.kindWithArticle)") }
        return string
    }

    func bool() throws -> Bool {
        guard let bool = value.bool else { throw invalid("expected true or false, found \(value.kindWithArticle)") }
        return bool
    }

    func int() throws -> Int {
        guard let number = value.number, let int = number.int ?? Int(exactly: number.value) else {
            throw invalid("expected an integer, found \(value.number.map { $0.text } ?? value.kindWithArticle)")
        }
        return int
    }

    func double() throws -> Double {
        guard let number = value.number else { throw invalid("expected a number, found \(value.kindWithArticle)") }
        return number.value
    }

    func array() throws -> [JSONNode] {
        guard let array = value.array else { throw invalid("expected an array, found \(value.kindWithArticle)") }
        return array.enumerated().map { JSONNode(value: $1, path: "\(path)[\($0)]", file: file) }
    }

    /// Key–value pairs, in the order written.
    func object() throws -> [(key: String, node: JSONNode)] {
        guard let object = value.object else { throw invalid("expected an object, found \(value.kindWithArticle)") }
        return object.members.map { ($0.key, JSONNode(value: $0.value, path: childPath($0.key), file: file)) }
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        try optional(key)?.bool() ?? fallback
    }
}
