import Foundation

public enum TokenizerError: Error, CustomStringConvertible {
    case vocabularyNotFound(URL)
    case vocabularyUnreadable(URL, reason: String)
    case missingSpecialToken(String, vocabulary: URL)
    case invalidConfiguration(URL, reason: String)

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
        }
    }
}
