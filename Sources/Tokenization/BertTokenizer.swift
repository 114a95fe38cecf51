import Foundation

/// BERT's WordPiece tokenizer, token for token the same as Hugging Face's BertTokenizer
/// (transformers' Python implementation, the reference for the fixtures) for cased and uncased
/// vocabularies. The Rust-backed BertTokenizerFast agrees except in rare cases, listed in
/// scripts/fixtures/tokenizer_fixtures.py.
public struct BertTokenizer: Tokenizer {
    let vocabulary: Vocabulary
    let basic: BasicTokenizer
    let wordPiece: WordPiece
    let specials: SpecialTokens
    /// Ids of `specials.all`, in that order.
    let specialIds: [Int32]

    /// `stripAccents` nil follows `lowercase`, as in HF.
    public init(vocabularyURL: URL, lowercase: Bool, stripAccents: Bool? = nil, tokenizeChineseChars: Bool = true) throws {
        var config = TokenizerConfig()
        config.doLowerCase = lowercase
        config.stripAccents = stripAccents
        config.tokenizeChineseChars = tokenizeChineseChars
        try self.init(vocabularyURL: vocabularyURL, config: config)
    }

    /// Reads vocab.txt and, when present, tokenizer_config.json (do_lower_case, strip_accents,
    /// tokenize_chinese_chars) from a Hugging Face model folder.
    public init(modelDirectory: URL) throws {
        let configURL = modelDirectory.appendingPathComponent("tokenizer_config.json")
        let config = FileManager.default.fileExists(atPath: configURL.path)
            ? try TokenizerConfig(contentsOf: configURL) : TokenizerConfig()
        try self.init(vocabularyURL: modelDirectory.appendingPathComponent("vocab.txt"), config: config)
    }

    init(vocabularyURL: URL, config: TokenizerConfig) throws {
        let vocabulary = try Vocabulary(contentsOf: vocabularyURL)
        let specials = config.specialTokens
        let specialIds = try specials.all.map { name in
            guard let id = vocabulary.id(of: name) else {
                throw TokenizerError.missingSpecialToken(name, vocabulary: vocabularyURL)
            }
            return id
        }
        self.vocabulary = vocabulary
        self.specials = specials
        self.specialIds = specialIds
        basic = BasicTokenizer(
            lowercase: config.doLowerCase,
            stripAccents: config.stripAccents ?? config.doLowerCase,
            splitChinese: config.tokenizeChineseChars,
            neverSplit: specials.all)
        wordPiece = WordPiece(vocabulary: vocabulary, unknownId: specialIds[0])
    }

    /// Lines in vocab.txt, i.e. the embedding rows a model needs.
    public var vocabularySize: Int { vocabulary.tokens.count }

    public func id(of token: String) -> Int32? { vocabulary.id(of: token) }

    public func token(of id: Int32) -> String? {
        vocabulary.tokens.indices.contains(Int(id)) ? vocabulary.tokens[Int(id)] : nil
    }

    public var unkId: Int32 { specialIds[0] }
    public var sepId: Int32 { specialIds[1] }
    public var padId: Int32 { specialIds[2] }
    public var clsId: Int32 { specialIds[3] }
    public var maskId: Int32 { specialIds[4] }

    /// WordPiece tokens of `text`, without [CLS]/[SEP] around them.
    public func tokenize(_ text: String) -> [String] {
        ids(of: text).map { vocabulary.tokens[Int($0)] }
    }

    /// [CLS] text [SEP] (pair [SEP]), cut to `maxLength` tokens including the specials by HF's
    /// 'longest_first' strategy. When even the specials exceed `maxLength`, only they remain.
    public func encodeIds(_ text: String, pair: String?, maxLength: Int?) -> (inputIds: [Int32], tokenTypeIds: [Int32]) {
        var first = ids(of: text)
        var second = pair.map(ids(of:)) ?? []
        if let maxLength {
            let specialCount = pair == nil ? 2 : 3
            let cuts = longestFirstCuts(
                firstCount: first.count, secondCount: second.count,
                excess: first.count + second.count + specialCount - maxLength)
            first.removeLast(cuts.first)
            second.removeLast(cuts.second)
        }
        var inputIds = [clsId]
        inputIds.reserveCapacity(first.count + second.count + 3)
        inputIds += first
        inputIds.append(sepId)
        var tokenTypeIds = [Int32](repeating: 0, count: inputIds.count)
        if pair != nil {
            inputIds += second
            inputIds.append(sepId)
            tokenTypeIds += [Int32](repeating: 1, count: second.count + 1)
        }
        return (inputIds, tokenTypeIds)
    }

    /// Token ids of `text` without specials: special tokens written in the text are kept whole,
    /// the rest goes through the basic tokenizer and WordPiece.
    func ids(of text: String) -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(text.utf8.count / 4 + 4)
        // Locals, so the closures below do not copy the whole tokenizer on every piece.
        let basic = basic, wordPiece = wordPiece, specialIds = specialIds
        specials.split(text) { segment in
            basic.forEachPiece(in: segment) { wordPiece.appendIds(of: $0, to: &ids) }
        } special: { index in
            ids.append(specialIds[index])
        }
        return ids
    }
}
