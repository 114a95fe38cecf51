import Foundation

public enum TokenizerError: Error, CustomStringConvertible {
    case vocabularyNotFound(URL)
    case vocabularyUnreadable(URL, reason: String)
    case missingSpecialToken(String, vocabulary: URL)
    case invalidConfiguration(URL, reason: String)
    /// A file over its limit in `TokenizerFileLimits`.
    case fileTooLarge(URL, bytes: Int, limit: Int)
    /// A malformed file; the reason names the line or JSON key.
    case invalidFile(URL, reason: String)
    /// A well-formed file asking for something this implementation does not do (named).
    case unsupported(URL, reason: String)
    /// A folder with none of the files a tokenizer is read from.
    case noTokenizerFiles(URL)

    public var description: String {
        switch self {
        case .vocabularyNotFound(let url):
            return "vocabulary file not found: \(url.path)"
        case .vocabularyUnreadable(let url, let reason):
            return "cannot read vocabulary file \(url.path): \(reason)"
        case .missingSpecialToken(let token, let url):
            return "special token \(token) is not in the vocabulary \(url.path)"
        case .invalidConfiguration(let url, let reason):
            return "unusable tokenizer configuration \(url.path): \(reason)"
        case .fileTooLarge(let url, let bytes, let limit):
            return "\(url.path) has \(bytes) bytes, over the limit of \(limit) for this kind of tokenizer file"
        case .invalidFile(let url, let reason):
            return "malformed tokenizer file \(url.path): \(reason)"
        case .unsupported(let url, let reason):
            return "unsupported tokenizer file \(url.path): \(reason)"
        case .noTokenizerFiles(let url):
            return "no tokenizer in \(url.path): expected tokenizer.json, vocab.json with merges.txt, "
                + "sentencepiece.bpe.model or vocab.txt"
        }
    }
}

/// The largest tokenizer files read, in bytes. Real ones are far smaller (xlm-roberta-large:
/// tokenizer.json 17 MB, sentencepiece.bpe.model 5 MB; roberta-base: vocab.json 1 MB, merges.txt
/// 0.5 MB); the limits stop a wrong or hostile file before it is read into memory.
public enum TokenizerFileLimits {
    public static let tokenizerJSON = 64 << 20
    public static let vocabularyJSON = 16 << 20
    public static let merges = 16 << 20
    public static let sentencePieceModel = 32 << 20
    /// tokenizer_config.json, special_tokens_map.json.
    public static let configuration = 1 << 20
    /// Entries of a vocabulary (model pieces plus added tokens).
    public static let vocabularyEntries = 4_000_000

    /// The file's bytes, refused over `limit`; a missing file throws `vocabularyNotFound`.
    static func read(_ url: URL, limit: Int) throws -> Data {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: url.path)
        } catch {
            throw TokenizerError.vocabularyNotFound(url)
        }
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        guard size <= limit else { throw TokenizerError.fileTooLarge(url, bytes: size, limit: limit) }
        do {
            let data = try Data(contentsOf: url)
            guard data.count <= limit else { throw TokenizerError.fileTooLarge(url, bytes: data.count, limit: limit) }
            return data
        } catch let error as TokenizerError {
            throw error
        } catch {
            throw TokenizerError.vocabularyUnreadable(url, reason: error.localizedDescription)
        }
    }
}
