import Foundation

/// A parsed JSON value with the key path that reached it, so that every error names the file and
/// the key ("model.merges[12]").
struct JSONNode {
    let value: Any
    let path: String
    let file: URL

    /// Parses `data` (already size-checked) from `file`.
    init(parsing data: Data, file: URL) throws {
        do {
            value = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw TokenizerError.invalidFile(file, reason: "not JSON: \(error.localizedDescription)")
        }
        path = "(top level)"
        self.file = file
    }

    private init(value: Any, path: String, file: URL) {
        (self.value, self.path, self.file) = (value, path, file)
    }

    func invalid(_ reason: String) -> TokenizerError { .invalidFile(file, reason: "\(path): \(reason)") }
    func unsupported(_ reason: String) -> TokenizerError { .unsupported(file, reason: "\(path): \(reason)") }

    var isNull: Bool { value is NSNull }

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
        guard let object = value as? [String: Any] else { throw invalid("expected an object") }
        guard let child = object[key], keepingNull || !(child is NSNull) else { return nil }
        return JSONNode(value: child, path: childPath(key), file: file)
    }

    private func childPath(_ key: String) -> String {
        path == "(top level)" ? key : "\(path).\(key)"
    }

    func string() throws -> String {
        guard let string = value as? String else { throw invalid("expected a string") }
        return string
    }

    func bool() throws -> Bool {
        guard let bool = value as? Bool else { throw invalid("expected true or false") }
        return bool
    }

    func int() throws -> Int {
        guard let number = value as? NSNumber, let int = Int(exactly: number.doubleValue) else {
            throw invalid("expected an integer")
        }
        return int
    }

    func double() throws -> Double {
        guard let number = value as? NSNumber else { throw invalid("expected a number") }
        return number.doubleValue
    }

    func array() throws -> [JSONNode] {
        guard let array = value as? [Any] else { throw invalid("expected an array") }
        return array.enumerated().map { JSONNode(value: $1, path: "\(path)[\($0)]", file: file) }
    }

    /// Key–value pairs, in no particular order.
    func object() throws -> [(key: String, node: JSONNode)] {
        guard let object = value as? [String: Any] else { throw invalid("expected an object") }
        return object.map { ($0.key, JSONNode(value: $0.value, path: childPath($0.key), file: file)) }
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        try optional(key)?.bool() ?? fallback
    }
}
