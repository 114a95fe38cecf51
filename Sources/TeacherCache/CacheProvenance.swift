import Foundation

/// Where a cache came from: enough to refuse mixing caches, teachers and datasets, and to
/// tell a reader the teacher's geometry without loading it.
public struct CacheProvenance: Codable, Equatable, Sendable {
    public struct DataFile: Codable, Equatable, Sendable {
        public var file: String
        public var bytes: Int
        public var sha256: String
        public var rows: Int
    }

    public struct Teacher: Codable, Equatable, Sendable {
        public var path: String
        /// config.json as loaded (Hugging Face keys).
        public var config: String
        public var weightsSHA256: String
        public var vocabularySHA256: String
        public var vocabularySize: Int
        public var hiddenSize: Int
        public var layers: Int
        public var heads: Int
        /// "classifier", "masked-lm" or "none".
        public var head: String
        public var classifierLabels: Int

        public init(path: String, config: String, weightsSHA256: String, vocabularySHA256: String, vocabularySize: Int,
                    hiddenSize: Int, layers: Int, heads: Int, head: String, classifierLabels: Int) {
            self.path = path; self.config = config; self.weightsSHA256 = weightsSHA256; self.vocabularySHA256 = vocabularySHA256
            self.vocabularySize = vocabularySize; self.hiddenSize = hiddenSize; self.layers = layers; self.heads = heads
            self.head = head; self.classifierLabels = classifierLabels
        }
    }

    /// Whether the cache stores each example's text (and the second text of pairs), for students
    /// with another tokenizer. Nil in caches written before the texts were stored.
    public struct ExampleText: Codable, Equatable, Sendable {
        public var pairs: Bool
        public init(pairs: Bool) { self.pairs = pairs }
    }

    public var teacher: Teacher
    public var datasets: [DataFile]
    public var labelNames: [String]?
    public var exampleText: ExampleText?
    /// A bf16 teacher's outputs against fp32 (nil for an fp32 teacher, and in older caches).
    public var precisionCheck: PrecisionCheck?

    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, from json: String, what: String) throws -> T {
        do { return try JSONDecoder().decode(type, from: Data(json.utf8)) } catch {
            throw CacheError.corrupt("attribute '\(what)' is not valid: \(error)")
        }
    }
}
