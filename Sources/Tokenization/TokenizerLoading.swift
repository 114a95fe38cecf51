import Foundation

/// The files a tokenizer can be read from, as a Hugging Face model folder holds them.
public enum TokenizerFormat: String, Sendable, CaseIterable {
    /// vocab.txt (+ tokenizer_config.json): `BertTokenizer`, as transformers' Python BertTokenizer.
    case vocabularyText
    /// tokenizer.json: `PipelineTokenizer`, as the Rust `tokenizers` library.
    case tokenizerJSON
    /// vocab.json + merges.txt (+ tokenizer_config.json, special_tokens_map.json): byte-level BPE as RoBERTa.
    case bytePairFiles
    /// sentencepiece.bpe.model (a SentencePiece unigram model) as XLM-R, with its fairseq ids.
    case sentencePiece

    /// Without a BPE or Unigram tokenizer.json, the first of these whose files are all there.
    static let fallbackOrder: [TokenizerFormat] = [.bytePairFiles, .sentencePiece, .vocabularyText, .tokenizerJSON]

    /// The format `loadTokenizer(modelDirectory:)` reads in a folder, and its files: what defines
    /// the ids a model was trained on (a cache records their hash as the teacher's vocabulary).
    public static func chosen(in modelDirectory: URL) throws -> (format: TokenizerFormat, files: [URL]) {
        let format = try choose(in: modelDirectory).format
        return (format, format.fileNames.map { modelDirectory.appendingPathComponent($0) })
    }

    /// The choice, with the parsed tokenizer.json when it decided it (so the loader parses it once).
    static func choose(in modelDirectory: URL) throws -> (format: TokenizerFormat, parsedJSON: JSONNode?) {
        func has(_ format: TokenizerFormat) -> Bool {
            format.fileNames.allSatisfy { FileManager.default.fileExists(atPath: modelDirectory.appendingPathComponent($0).path) }
        }
        if has(.tokenizerJSON) {
            let root = try TokenizerJSON.read(modelDirectory.appendingPathComponent("tokenizer.json"))
            if ["BPE", "Unigram"].contains(try TokenizerJSON.modelType(root)) { return (.tokenizerJSON, root) }
        }
        guard let format = fallbackOrder.first(where: has) else { throw TokenizerError.noTokenizerFiles(modelDirectory) }
        return (format, nil)
    }

    /// Every file a tokenizer of any format may be read from, its configuration included: what a
    /// model folder carries for its tokenizer (an exported student copies them).
    public static let folderFiles = allCases.flatMap(\.fileNames) + ["tokenizer_config.json", "special_tokens_map.json"]

    var fileNames: [String] {
        switch self {
        case .vocabularyText: return ["vocab.txt"]
        case .tokenizerJSON: return ["tokenizer.json"]
        case .bytePairFiles: return ["vocab.json", "merges.txt"]
        case .sentencePiece: return ["sentencepiece.bpe.model"]
        }
    }
}

/// The tokenizer of a Hugging Face model folder. With `format` nil the folder decides:
/// tokenizer.json when its model is BPE or Unigram; else vocab.json + merges.txt; else
/// sentencepiece.bpe.model; else vocab.txt (so a BERT folder keeps the Python-identical
/// `BertTokenizer` even beside a WordPiece tokenizer.json); else a WordPiece tokenizer.json.
public func loadTokenizer(modelDirectory: URL, format: TokenizerFormat? = nil) throws -> any Tokenizer {
    let jsonURL = modelDirectory.appendingPathComponent("tokenizer.json")
    let (chosen, parsedJSON) = try format.map { ($0, nil) } ?? TokenizerFormat.choose(in: modelDirectory)
    switch chosen {
    case .vocabularyText:
        return try BertTokenizer(modelDirectory: modelDirectory)
    case .tokenizerJSON:
        let root = try parsedJSON ?? TokenizerJSON.read(jsonURL)
        return try TokenizerJSON.tokenizer(root, specials: SpecialTokenNames(modelDirectory: modelDirectory))
    case .bytePairFiles:
        return try BytePairFiles.tokenizer(modelDirectory: modelDirectory)
    case .sentencePiece:
        return try SentencePieceModel.tokenizer(url: modelDirectory.appendingPathComponent("sentencepiece.bpe.model"),
                                                specials: SpecialTokenNames(modelDirectory: modelDirectory))
    }
}

/// The names of the special tokens a model needs, from special_tokens_map.json, else
/// tokenizer_config.json (a name or an AddedToken object), else the family's usual names.
struct SpecialTokenNames {
    var pad: String?, unk: String?, mask: String?, cls: String?, sep: String?
    /// lstrip of the mask token when the files give it as an AddedToken object.
    var maskLstrip: Bool?

    init() {}

    init(modelDirectory: URL) throws {
        for name in ["tokenizer_config.json", "special_tokens_map.json"] {
            let url = modelDirectory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            let root = try JSONNode(reading: url, limit: TokenizerFileLimits.configuration)
            func named(_ key: String) throws -> String? {
                guard let node = try root.optional(key) else { return nil }
                if let text = try? node.string() { return text }
                return try node.child("content").string()
            }
            // special_tokens_map.json is read last and wins.
            pad = try named("pad_token") ?? pad
            unk = try named("unk_token") ?? unk
            mask = try named("mask_token") ?? mask
            cls = try named("cls_token") ?? named("bos_token") ?? cls
            sep = try named("sep_token") ?? named("eos_token") ?? sep
            if let maskNode = try root.optional("mask_token"), let lstrip = try? maskNode.optional("lstrip")?.bool() {
                maskLstrip = lstrip
            }
        }
    }

    /// The ids of the five specials; a name missing from the vocabulary is an error naming it.
    /// Unnamed ones take BERT's names when the vocabulary has [CLS], else RoBERTa's.
    func resolve(in ids: TokenTable, file: URL) throws -> (pad: Int32, unk: Int32, mask: Int32, cls: Int32, sep: Int32) {
        let bert = ids.id(of: "[CLS]") != nil
        func id(_ name: String?, _ key: String, bertName: String, robertaName: String) throws -> Int32 {
            let name = name ?? (bert ? bertName : robertaName)
            guard let id = ids.id(of: name) else { throw TokenizerError.missingSpecialToken("\(name) (\(key))", vocabulary: file) }
            return id
        }
        return (try id(pad, "pad_token", bertName: "[PAD]", robertaName: "<pad>"),
                try id(unk, "unk_token", bertName: "[UNK]", robertaName: "<unk>"),
                try id(mask, "mask_token", bertName: "[MASK]", robertaName: "<mask>"),
                try id(cls, "cls_token", bertName: "[CLS]", robertaName: "<s>"),
                try id(sep, "sep_token", bertName: "[SEP]", robertaName: "</s>"))
    }
}

/// RoBERTa's vocab.json + merges.txt, made into the pipeline transformers' RobertaConverter makes:
/// ByteLevel (add_prefix_space from tokenizer_config.json, default false), byte-level BPE,
/// RobertaProcessing, the specials as added tokens (the mask token lstrip unless the files say otherwise).
enum BytePairFiles {
    static func tokenizer(modelDirectory: URL) throws -> PipelineTokenizer {
        let vocabURL = modelDirectory.appendingPathComponent("vocab.json")
        let mergesURL = modelDirectory.appendingPathComponent("merges.txt")
        let vocabRoot = try JSONNode(reading: vocabURL, limit: TokenizerFileLimits.vocabularyJSON)
        let vocabulary = try TokenizerJSON.tokenIds(vocabRoot)
        let (merges, firstLine) = try readMerges(mergesURL)
        let bpe = try TokenizerJSON.bytePairModel(
            vocabulary: vocabulary, merges: merges, unknownToken: nil, fuseUnknown: false, ignoreMerges: false,
            file: mergesURL, mergesName: "merges.txt", lineOffset: firstLine)

        var addPrefixSpace = false
        let configURL = modelDirectory.appendingPathComponent("tokenizer_config.json")
        if FileManager.default.fileExists(atPath: configURL.path) {
            let config = try JSONNode(reading: configURL, limit: TokenizerFileLimits.configuration)
            addPrefixSpace = try config.bool("add_prefix_space", default: false)
        }
        let dense = TokenizerJSON.denseTokens(vocabulary)
        if let gap = dense.firstIndex(where: { $0 == nil }) {
            throw TokenizerError.invalidFile(vocabURL, reason: "no token has id \(gap) (ids must be 0..<\(dense.count) without gaps)")
        }
        let allTokens = dense.map { $0! }
        let ids = TokenizerJSON.table(allTokens)
        let names = try SpecialTokenNames(modelDirectory: modelDirectory)
        let specials = try names.resolve(in: ids, file: vocabURL)
        let added = [specials.cls, specials.pad, specials.sep, specials.unk].map {
            AddedToken(content: allTokens[Int($0)], id: $0)
        } + [AddedToken(content: allTokens[Int(specials.mask)], id: specials.mask, lstrip: names.maskLstrip ?? true)]
        return PipelineTokenizer(
            tokens: allTokens, tokenIds: ids, rawAddedTokens: AddedTokenMatcher(added), normalizedAddedTokens: nil,
            normalizer: nil, preTokenizer: .byteLevel(addPrefixSpace: addPrefixSpace, useRegex: true), model: .bytePair(bpe),
            postProcessor: .roberta(cls: specials.cls, sep: specials.sep),
            padId: specials.pad, unkId: specials.unk, maskId: specials.mask, clsId: specials.cls, sepId: specials.sep,
            source: vocabURL)
    }

    /// The merges of merges.txt in rank order, and the line number of the first: a "#version"
    /// first line is skipped, as are empty lines; any other line must be two tokens and one space.
    static func readMerges(_ url: URL) throws -> (merges: [(String, String)], firstLine: Int) {
        let data = try TokenizerFileLimits.read(url, limit: TokenizerFileLimits.merges)
        guard let text = String(data: data, encoding: .utf8) else {
            throw TokenizerError.invalidFile(url, reason: "not UTF-8")
        }
        var merges: [(String, String)] = []
        var firstLine = 0
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = line.hasSuffix("\r") ? line.dropLast() : line
            if line.isEmpty || (index == 0 && line.hasPrefix("#version")) { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw TokenizerError.invalidFile(url, reason: "line \(index + 1): \"\(line)\" is not two tokens separated by one space")
            }
            if merges.isEmpty { firstLine = index + 1 }
            merges.append((String(parts[0]), String(parts[1])))
        }
        // Line numbers in later errors: merge k is on line firstLine + k when no empty line intervenes.
        return (merges, firstLine)
    }
}
