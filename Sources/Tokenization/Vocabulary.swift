import Foundation

/// A WordPiece vocabulary: one token per line of vocab.txt, the id being the line number.
/// A class so the tokenizer's hot loops share it through one reference instead of copying its arrays.
final class Vocabulary: Sendable {
    /// id → token, one per line (duplicates keep their own line).
    let tokens: [String]
    /// Token bytes → id, HF's `vocab` dict: a duplicate line takes the later id.
    let wholeTokens: TokenTable
    /// Bytes after the continuation prefix ("##") → id of the "##…" token, so continuation
    /// lookups need no concatenation.
    let continuations: TokenTable

    /// Reads vocab.txt as HF's `load_vocab` does: UTF-8, Python universal newlines (\n, \r\n, \r),
    /// nothing stripped but the line break, no empty token after a final newline.
    convenience init(contentsOf url: URL) throws {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TokenizerError.vocabularyNotFound(url)
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError.vocabularyUnreadable(url, reason: error.localizedDescription)
        }
        let lines = Self.lines(of: [UInt8](data))
        var tokens: [String] = []
        tokens.reserveCapacity(lines.count)
        for (number, line) in lines.enumerated() {
            guard let token = String(validating: line, as: UTF8.self) else {
                throw TokenizerError.vocabularyUnreadable(url, reason: "line \(number + 1) is not valid UTF-8")
            }
            tokens.append(token)
        }
        guard !tokens.isEmpty else { throw TokenizerError.vocabularyUnreadable(url, reason: "no tokens") }
        self.init(tokens: tokens, lines: lines)
    }

    /// Tokens by id (tokenizer.json's WordPiece vocabulary), `continuingPrefix` marking continuations.
    convenience init(tokens: [String], continuingPrefix: String) {
        self.init(tokens: tokens, lines: tokens.map { ArraySlice($0.utf8) }, continuingPrefix: continuingPrefix)
    }

    private init(tokens: [String], lines: [ArraySlice<UInt8>], continuingPrefix: String = "##") {
        let prefix: [UInt8] = Array(continuingPrefix.utf8)
        var whole = TokenTable(capacity: lines.count)
        var continuing = TokenTable(capacity: lines.count)
        for (id, line) in lines.enumerated() {
            whole.insert(line, id: Int32(id))
            if line.starts(with: prefix) { continuing.insert(line.dropFirst(prefix.count), id: Int32(id)) }
        }
        self.tokens = tokens
        self.wholeTokens = whole
        self.continuations = continuing
    }

    func id(of token: String) -> Int32? {
        var token = token
        return token.withUTF8 { wholeTokens.id(for: $0) }
    }

    private static func lines(of bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0, i = 0
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "\n"):
                lines.append(bytes[start..<i])
                i += 1
            case UInt8(ascii: "\r"):
                lines.append(bytes[start..<i])
                i += (i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\n")) ? 2 : 1
            default:
                i += 1
                continue
            }
            start = i
        }
        if start < bytes.count { lines.append(bytes[start...]) }
        return lines
    }
}
