import Foundation

/// The settings BertTokenizer reads from a Hugging Face tokenizer_config.json; absent keys take
/// HF's defaults (lower-casing on, accents following it, CJK splitting on, standard specials).
struct TokenizerConfig: Decodable {
    var doLowerCase = true
    var stripAccents: Bool?
    var tokenizeChineseChars = true
    var specialTokens = SpecialTokens()

    init() {}

    init(contentsOf url: URL) throws {
        do {
            self = try JSONDecoder().decode(TokenizerConfig.self, from: Data(contentsOf: url))
        } catch {
            throw TokenizerError.invalidConfiguration(url, reason: "\(error)")
        }
        // Settings that change tokenization in ways this implementation does not follow.
        if doBasicTokenize == false {
            throw TokenizerError.invalidConfiguration(url, reason: "do_basic_tokenize = false is not supported")
        }
        if let neverSplit, !neverSplit.isEmpty {
            throw TokenizerError.invalidConfiguration(url, reason: "never_split is not supported")
        }
    }

    private var doBasicTokenize: Bool?
    private var neverSplit: [String]?

    private enum CodingKeys: String, CodingKey {
        case doLowerCase = "do_lower_case", stripAccents = "strip_accents"
        case tokenizeChineseChars = "tokenize_chinese_chars"
        case doBasicTokenize = "do_basic_tokenize", neverSplit = "never_split"
        case unknown = "unk_token", separator = "sep_token", padding = "pad_token"
        case classifier = "cls_token", mask = "mask_token"
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        doLowerCase = try c.decodeIfPresent(Bool.self, forKey: .doLowerCase) ?? true
        stripAccents = try c.decodeIfPresent(Bool.self, forKey: .stripAccents)
        tokenizeChineseChars = try c.decodeIfPresent(Bool.self, forKey: .tokenizeChineseChars) ?? true
        doBasicTokenize = try c.decodeIfPresent(Bool.self, forKey: .doBasicTokenize)
        neverSplit = try c.decodeIfPresent([String].self, forKey: .neverSplit)
        func name(_ key: CodingKeys, _ fallback: String) throws -> String {
            try c.decodeIfPresent(TokenName.self, forKey: key)?.content ?? fallback
        }
        let defaults = SpecialTokens()
        specialTokens = SpecialTokens(
            unknown: try name(.unknown, defaults.unknown), separator: try name(.separator, defaults.separator),
            padding: try name(.padding, defaults.padding), classifier: try name(.classifier, defaults.classifier),
            mask: try name(.mask, defaults.mask))
    }
}

/// A special token in tokenizer_config.json: a plain string or an AddedToken object
/// (`{"content": "[MASK]", "lstrip": …}`); only the text matters for BERT.
private struct TokenName: Decodable {
    var content: String

    private enum CodingKeys: String, CodingKey { case content }

    init(from decoder: Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            content = text
        } else {
            content = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .content)
        }
    }
}
