import Foundation

/// Reads HF `tokenizers`' tokenizer.json into a `PipelineTokenizer`. Every type this package does
/// not follow is refused by name (never skipped): models BPE (byte-level), Unigram, WordPiece;
/// normalisers Sequence, Precompiled, Strip, Replace, BertNormalizer, NFC/NFD/NFKC/NFKD,
/// Lowercase; pre-tokenizers Sequence, ByteLevel, Metaspace, BertPreTokenizer, WhitespaceSplit;
/// post-processors RobertaProcessing, BertProcessing, TemplateProcessing, ByteLevel, none.
/// "truncation" and "padding" in the file are ignored: callers pass maxLength and pad batches.
enum TokenizerJSON {
    static func read(_ url: URL) throws -> JSONNode {
        try JSONNode(reading: url, limit: TokenizerFileLimits.tokenizerJSON)
    }

    /// "model.type" of a parsed tokenizer.json.
    static func modelType(_ root: JSONNode) throws -> String {
        try root.child("model").child("type").string()
    }

    static func tokenizer(_ root: JSONNode, specials names: SpecialTokenNames) throws -> PipelineTokenizer {
        let modelNode = try root.child("model")
        let normalizer = try root.optional("normalizer").map(normalizer(_:))
        let preTokenizer = try root.optional("pre_tokenizer").map(preTokenizer(_:))
        let addedTokens = try (root.optional("added_tokens")?.array() ?? []).map(addedToken(_:))

        // The model and its vocabulary (id → token).
        let model: PipelineTokenizer.Model
        var tokens: [String?]
        switch try modelType(root) {
        case "BPE":
            guard preTokenizer.map(Self.hasByteLevel) == true else {
                throw modelNode.unsupported("BPE without a ByteLevel pre-tokenizer (only byte-level BPE is implemented)")
            }
            let vocabulary = try tokenIds(try modelNode.child("vocab"))
            let merges = try (modelNode.child("merges").array()).map { node -> (String, String) in
                if let line = try? node.string() {
                    let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                    guard parts.count == 2 else { throw node.invalid("a merge is two tokens separated by one space") }
                    return (String(parts[0]), String(parts[1]))
                }
                let parts = try node.array().map { try $0.string() }
                guard parts.count == 2 else { throw node.invalid("a merge is a pair of tokens") }
                return (parts[0], parts[1])
            }
            for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
                if let affix = try modelNode.optional(key)?.string(), !affix.isEmpty {
                    throw modelNode.unsupported("\(key) \"\(affix)\" with byte-level BPE")
                }
            }
            if let dropout = try modelNode.optional("dropout")?.double(), dropout > 0 {
                throw modelNode.unsupported("dropout \(dropout) (training-time randomness)")
            }
            if try modelNode.bool("byte_fallback", default: false) { throw modelNode.unsupported("byte_fallback true") }
            let unknown = try modelNode.optional("unk_token")?.string()
            let bpe = try bytePairModel(
                vocabulary: vocabulary, merges: merges, unknownToken: unknown,
                fuseUnknown: modelNode.bool("fuse_unk", default: false),
                ignoreMerges: modelNode.bool("ignore_merges", default: false), file: root.file, mergesName: "model.merges")
            model = .bytePair(bpe)
            tokens = denseTokens(vocabulary)
        case "Unigram":
            let entries = try modelNode.child("vocab").array()
            guard entries.count <= TokenizerFileLimits.vocabularyEntries else { throw modelNode.invalid("too many pieces") }
            var pieces: [String] = [], scores: [Double] = []
            for entry in entries {
                let pair = try entry.array()
                guard pair.count == 2 else { throw entry.invalid("a piece is [text, score]") }
                pieces.append(try pair[0].string())
                scores.append(try pair[1].double())
            }
            if try modelNode.bool("byte_fallback", default: false) { throw modelNode.unsupported("byte_fallback true") }
            guard let unknown = try modelNode.optional("unk_id")?.int() else {
                throw modelNode.unsupported("unk_id null (text without a piece could not be encoded)")
            }
            guard pieces.indices.contains(unknown) else { throw modelNode.invalid("unk_id \(unknown) is not a piece") }
            model = .unigram(UnigramModel(pieces: table(pieces), scores: scores, unknownId: Int32(unknown)))
            tokens = pieces
        case "WordPiece":
            let vocabulary = try tokenIds(try modelNode.child("vocab"))
            let dense = denseTokens(vocabulary)
            guard !dense.contains(where: { $0 == nil }) else {
                throw modelNode.invalid("vocab ids are not 0..<\(dense.count) without gaps")
            }
            let unknown = try modelNode.child("unk_token").string()
            guard let unknownId = vocabulary[unknown] else {
                throw TokenizerError.missingSpecialToken("\(unknown) (model.unk_token)", vocabulary: root.file)
            }
            let prefix = try modelNode.optional("continuing_subword_prefix")?.string() ?? "##"
            var wordPiece = WordPiece(
                vocabulary: Vocabulary(tokens: dense.map { $0! }, continuingPrefix: prefix), unknownId: unknownId)
            wordPiece.maxInputCharsPerWord = try modelNode.optional("max_input_chars_per_word")?.int() ?? 100
            model = .wordPiece(wordPiece)
            tokens = dense
        case let other:
            throw modelNode.unsupported("model type \"\(other)\"")
        }

        // Added tokens take their ids; an id the model has must hold the same text.
        for token in addedTokens {
            let id = Int(token.id)
            if id >= tokens.count { tokens += [String?](repeating: nil, count: id + 1 - tokens.count) }
            if let existing = tokens[id], existing != token.content {
                throw TokenizerError.invalidFile(root.file, reason: "added_tokens: id \(id) is \"\(token.content)\" but the model's token \(id) is \"\(existing)\"")
            }
            tokens[id] = token.content
        }
        if let gap = tokens.firstIndex(where: { $0 == nil }) {
            throw TokenizerError.invalidFile(root.file, reason: "no token has id \(gap) (ids must be 0..<\(tokens.count) without gaps)")
        }
        let allTokens = tokens.map { $0! }
        let ids = table(allTokens)
        let specials = try names.resolve(in: ids, file: root.file)
        return PipelineTokenizer(
            tokens: allTokens, tokenIds: ids,
            rawAddedTokens: AddedTokenMatcher(addedTokens.filter { !$0.normalized }),
            normalizedAddedTokens: AddedTokenMatcher(addedTokens.filter(\.normalized)),
            normalizer: normalizer, preTokenizer: preTokenizer, model: model,
            postProcessor: try root.optional("post_processor").map { try postProcessor($0, ids: ids) } ?? .none,
            padId: specials.pad, unkId: specials.unk, maskId: specials.mask, clsId: specials.cls, sepId: specials.sep,
            source: root.file)
    }

    // MARK: Parts

    static func normalizer(_ node: JSONNode) throws -> Normalizer {
        let type = try node.child("type").string()
        switch type {
        case "Sequence":
            return .sequence(try node.child("normalizers").array().map(normalizer(_:)))
        case "Precompiled":
            let encoded = try node.child("precompiled_charsmap")
            guard let blob = Data(base64Encoded: try encoded.string()) else { throw encoded.invalid("not base64") }
            do {
                return .precompiled(try PrecompiledCharsmap([UInt8](blob)))
            } catch let error as PrecompiledCharsmap.CharsmapError {
                throw encoded.invalid(error.reason)
            }
        case "Strip":
            return .strip(left: try node.bool("strip_left", default: true), right: try node.bool("strip_right", default: true))
        case "Replace":
            let content = try node.child("content").string()
            let patternNode = try node.child("pattern")
            if let literal = try patternNode.optional("String")?.string() {
                return .replace(.literal(Array(literal.unicodeScalars)), with: content)
            }
            let regexNode = try patternNode.child("Regex")
            let regex = try regexNode.string()
            guard let pattern = ReplacePattern(regex: regex) else {
                throw regexNode.unsupported("regex \"\(regex)\" (only a scalar, X+ and X{n,} are implemented)")
            }
            return .replace(pattern, with: content)
        case "BertNormalizer":
            return .bert(BertNormalization(
                cleanText: try node.bool("clean_text", default: true),
                handleChineseChars: try node.bool("handle_chinese_chars", default: true),
                stripAccents: try node.optional("strip_accents")?.bool(),
                lowercase: try node.bool("lowercase", default: true)))
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "NFKC": return .nfkc
        case "NFKD": return .nfkd
        case "Lowercase": return .lowercase
        default:
            throw node.unsupported("normalizer type \"\(type)\"")
        }
    }

    static func preTokenizer(_ node: JSONNode) throws -> PreTokenizer {
        let type = try node.child("type").string()
        switch type {
        case "Sequence":
            return .sequence(try node.child("pretokenizers").array().map(preTokenizer(_:)))
        case "ByteLevel":
            return .byteLevel(addPrefixSpace: try node.bool("add_prefix_space", default: true),
                              useRegex: try node.bool("use_regex", default: true))
        case "Metaspace":
            let replacementNode = try node.child("replacement")
            let replacement = try replacementNode.string().unicodeScalars
            guard replacement.count == 1, let scalar = replacement.first else { throw replacementNode.invalid("expected one character") }
            let prepend: PreTokenizer.PrependScheme
            if let schemeNode = try node.optional("prepend_scheme") {
                let name = try schemeNode.string()
                guard let scheme = PreTokenizer.PrependScheme(rawValue: name) else {
                    throw schemeNode.unsupported("prepend_scheme \"\(name)\"")
                }
                prepend = scheme
            } else {
                prepend = try node.bool("add_prefix_space", default: true) ? .always : .never
            }
            return .metaspace(replacement: scalar, prepend: prepend, split: try node.bool("split", default: true))
        case "BertPreTokenizer":
            return .bert
        case "WhitespaceSplit":
            return .whitespaceSplit
        default:
            throw node.unsupported("pre_tokenizer type \"\(type)\"")
        }
    }

    static func postProcessor(_ node: JSONNode, ids: TokenTable) throws -> PostProcessor {
        let type = try node.child("type").string()
        /// ["</s>", 2]: the id must be the token's.
        func special(_ key: String) throws -> Int32 {
            let pairNode = try node.child(key)
            let pair = try pairNode.array()
            guard pair.count == 2 else { throw pairNode.invalid("expected [token, id]") }
            let (token, id) = (try pair[0].string(), try pair[1].int())
            guard ids.id(of: token) == Int32(exactly: id) else {
                throw pairNode.invalid("\(token) does not have id \(id) in the vocabulary")
            }
            return Int32(id)
        }
        switch type {
        case "RobertaProcessing":
            return .roberta(cls: try special("cls"), sep: try special("sep"))
        case "BertProcessing":
            return .bert(cls: try special("cls"), sep: try special("sep"))
        case "ByteLevel":
            return .none  // offsets only
        case "TemplateProcessing":
            var specials: [String: [Int32]] = [:]
            for (name, entry) in try node.child("special_tokens").object() {
                specials[name] = try entry.child("ids").array().map { Int32(try $0.int()) }
            }
            func template(_ key: String) throws -> [PostProcessor.Piece] {
                try node.child(key).array().map { item in
                    if let special = try item.optional("SpecialToken") {
                        let name = try special.child("id").string()
                        guard let ids = specials[name] else { throw special.invalid("\(name) is not in special_tokens") }
                        return .special(ids: ids, typeId: Int32(try special.child("type_id").int()))
                    }
                    let sequence = try item.child("Sequence")
                    let which = try sequence.child("id").string()
                    guard which == "A" || which == "B" else { throw sequence.invalid("sequence \(which) is neither A nor B") }
                    return .sequence(first: which == "A", typeId: Int32(try sequence.child("type_id").int()))
                }
            }
            return PostProcessor(single: try template("single"), pair: try template("pair"))
        default:
            throw node.unsupported("post_processor type \"\(type)\"")
        }
    }

    static func addedToken(_ node: JSONNode) throws -> AddedToken {
        if try node.bool("single_word", default: false) {
            throw node.unsupported("single_word true")
        }
        let id = try node.child("id").int()
        guard (0..<TokenizerFileLimits.vocabularyEntries).contains(id) else { throw node.invalid("id \(id) out of range") }
        return AddedToken(
            content: try node.child("content").string(), id: Int32(id),
            lstrip: try node.bool("lstrip", default: false), rstrip: try node.bool("rstrip", default: false),
            normalized: try node.bool("normalized", default: false))
    }

    // MARK: Vocabularies

    /// A {token: id} object.
    static func tokenIds(_ node: JSONNode) throws -> [String: Int32] {
        let entries = try node.object()
        guard entries.count <= TokenizerFileLimits.vocabularyEntries else { throw node.invalid("too many tokens") }
        var ids: [String: Int32] = [:]
        ids.reserveCapacity(entries.count)
        for (token, idNode) in entries {
            let id = try idNode.int()
            guard (0..<TokenizerFileLimits.vocabularyEntries).contains(id) else { throw idNode.invalid("id \(id) out of range") }
            ids[token] = Int32(id)
        }
        return ids
    }

    /// Tokens by id, nil where no token has the id.
    static func denseTokens(_ ids: [String: Int32]) -> [String?] {
        var tokens = [String?](repeating: nil, count: Int(ids.values.max() ?? -1) + 1)
        for (token, id) in ids { tokens[Int(id)] = token }
        return tokens
    }

    static func table(_ tokens: [String]) -> TokenTable {
        var table = TokenTable(capacity: tokens.count)
        for (id, token) in tokens.enumerated() { table.insert(token.utf8, id: Int32(id)) }
        return table
    }

    /// A byte-level BPE model from its vocabulary (tokens spelt in GPT-2's byte characters) and
    /// merges in rank order; `mergesName` names the merges' place in errors.
    static func bytePairModel(
        vocabulary: [String: Int32], merges: [(String, String)], unknownToken: String?, fuseUnknown: Bool,
        ignoreMerges: Bool, file: URL, mergesName: String, lineOffset: Int = 0
    ) throws -> BytePairModel {
        var byteIds = [Int32](repeating: -1, count: 256)
        var wholeWords = ignoreMerges ? TokenTable(capacity: vocabulary.count) : nil
        for (token, id) in vocabulary {
            guard let bytes = bytesOfByteLevelToken(token) else { continue }
            if bytes.count == 1 { byteIds[Int(bytes[0])] = id }
            wholeWords?.insert(bytes, id: id)
        }
        var table: [UInt64: BytePairModel.Merge] = [:]
        table.reserveCapacity(merges.count)
        for (rank, (left, right)) in merges.enumerated() {
            let place = "\(mergesName) \(lineOffset == 0 ? "[\(rank)]" : "line \(rank + lineOffset)")"
            guard let leftId = vocabulary[left], let rightId = vocabulary[right] else {
                throw TokenizerError.invalidFile(file, reason: "\(place): \"\(left) \(right)\" has a token missing from the vocabulary")
            }
            guard let result = vocabulary[left + right] else {
                throw TokenizerError.invalidFile(file, reason: "\(place): the merged token \"\(left + right)\" is missing from the vocabulary")
            }
            // A repeated pair takes its later rank, as HF's map of merges does.
            table[BytePairModel.key(leftId, rightId)] = BytePairModel.Merge(rank: Int32(rank), result: result)
        }
        var unknownId: Int32?
        if let unknownToken {
            guard let id = vocabulary[unknownToken] else {
                throw TokenizerError.missingSpecialToken("\(unknownToken) (model.unk_token)", vocabulary: file)
            }
            unknownId = id
        }
        return BytePairModel(byteIds: byteIds, merges: table, wholeWords: wholeWords, unknownId: unknownId, fuseUnknown: fuseUnknown)
    }

    static func hasByteLevel(_ preTokenizer: PreTokenizer) -> Bool {
        switch preTokenizer {
        case .byteLevel: return true
        case .sequence(let steps): return steps.contains(where: hasByteLevel)
        default: return false
        }
    }
}

extension TokenTable {
    func id(of token: String) -> Int32? {
        var token = token
        return token.withUTF8 { id(for: $0) }
    }
}
