import Foundation

/// A tokenizer as Hugging Face's Rust `tokenizers` library runs one: added tokens split out of the
/// text, then per stretch a normaliser, a pre-tokenizer and a model (byte-level BPE, SentencePiece
/// unigram or WordPiece), then the post-processor's specials. Token for token the same as
/// `tokenizers` for the configurations in docs/tokenizers.md; built by `loadTokenizer` from
/// tokenizer.json, vocab.json + merges.txt, or sentencepiece.bpe.model.
public struct PipelineTokenizer: Tokenizer {
    enum Model: Sendable {
        case bytePair(BytePairModel)
        case unigram(UnigramModel)
        case wordPiece(WordPiece)
    }

    /// Token of each id (model vocabulary and added tokens).
    let tokens: [String]
    let tokenIds: TokenTable
    /// Added tokens matched in the raw text, and those matched after normalisation.
    let rawAddedTokens: AddedTokenMatcher?
    let normalizedAddedTokens: AddedTokenMatcher?
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let model: Model
    let postProcessor: PostProcessor
    public let padId: Int32, unkId: Int32, maskId: Int32, clsId: Int32, sepId: Int32
    /// Which file the tokenizer came from, for messages.
    public let source: URL

    public var vocabularySize: Int { tokens.count }

    public func id(of token: String) -> Int32? {
        var token = token
        return token.withUTF8 { tokenIds.id(for: $0) }
    }

    public func token(of id: Int32) -> String? {
        tokens.indices.contains(Int(id)) ? tokens[Int(id)] : nil
    }

    public func tokenize(_ text: String) -> [String] {
        ids(of: text).map { tokens[Int($0)] }
    }

    /// With `maxLength`, the sequences are cut by `fastLongestFirstLengths` to leave room for the
    /// specials; as in `tokenizers`, a `maxLength` below the number of specials cuts nothing.
    public func encodeIds(_ text: String, pair: String?, maxLength: Int?) -> (inputIds: [Int32], tokenTypeIds: [Int32]) {
        var first = ids(of: text)
        var second = pair.map(ids(of:))
        if let maxLength {
            let added = postProcessor.addedCount(pair: pair != nil)
            if maxLength >= added {
                let kept = fastLongestFirstLengths(first: first.count, second: second?.count, room: maxLength - added)
                first.removeLast(first.count - kept.first)
                if let count = second?.count { second!.removeLast(count - kept.second) }
            }
        }
        return postProcessor.apply(first: first, second: second)
    }

    /// Ids of `text` without the post-processor's specials.
    func ids(of text: String) -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(text.utf8.count / 3 + 4)
        let split = { (matcher: AddedTokenMatcher?, text: String, onText: (Substring, Int) -> Void) in
            guard let matcher else { return onText(Substring(text), 0) }
            matcher.split(text, text: onText) { ids.append($0) }
        }
        split(rawAddedTokens, text) { stretch, offset in
            let normalized = normalizer?.apply(String(stretch)) ?? String(stretch)
            split(normalizedAddedTokens, normalized) { piece, pieceOffset in
                appendModelIds(of: piece, isFirst: offset == 0 && pieceOffset == 0, to: &ids)
            }
        }
        return ids
    }

    private func appendModelIds(of stretch: Substring, isFirst: Bool, to ids: inout [Int32]) {
        var words = Words(bytes: Array(stretch.utf8), ranges: [])
        words.ranges = [0..<words.bytes.count]
        preTokenizer?.apply(&words, isFirst: isFirst)
        words.bytes.withUnsafeBufferPointer { bytes in
            for range in words.ranges where !range.isEmpty {
                let word = UnsafeBufferPointer(rebasing: bytes[range])
                switch model {
                case .bytePair(let bpe): bpe.appendIds(of: word, to: &ids)
                case .unigram(let unigram): unigram.appendIds(of: word, to: &ids)
                case .wordPiece(let wordPiece): wordPiece.appendIds(of: word, to: &ids)
                }
            }
        }
    }
}
