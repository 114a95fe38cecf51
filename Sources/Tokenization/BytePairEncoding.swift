import Foundation

/// A BPE model over bytes (HF `tokenizers`' `BPE` behind a ByteLevel pre-tokenizer): a word's bytes
/// start as one symbol each, then the adjacent pair of lowest merge rank is merged (the leftmost
/// among equals) until no pair has a merge. Results of short words are cached.
struct BytePairModel: Sendable {
    struct Merge: Sendable {
        var rank: Int32
        var result: Int32
    }

    /// Id of the token of each single byte, -1 when the vocabulary has none.
    let byteIds: [Int32]
    /// (left id << 32 | right id) → rank and id of the merged token.
    let merges: [UInt64: Merge]
    /// `ignore_merges`: a word that is a whole vocabulary token is that token (Llama 3 style).
    let wholeWords: TokenTable?
    /// Bytes missing from the vocabulary become this id (fused into one when `fuseUnknown`); without
    /// it they are dropped, as in HF.
    let unknownId: Int32?
    let fuseUnknown: Bool
    let cache = WordCache()

    /// The ids of one pre-tokenized word, appended to `ids`.
    func appendIds(of word: UnsafeBufferPointer<UInt8>, to ids: inout [Int32]) {
        if word.isEmpty { return }
        if let wholeWords, let id = wholeWords.id(for: word) {
            ids.append(id)
            return
        }
        if let cached = cache.ids(of: word) {
            ids += cached
            return
        }
        var symbols: [Int32] = []
        symbols.reserveCapacity(word.count)
        for byte in word {
            let id = byteIds[Int(byte)]
            if id >= 0 {
                symbols.append(id)
            } else if let unknownId, !(fuseUnknown && symbols.last == unknownId) {
                symbols.append(unknownId)
            }
        }
        merge(&symbols)
        cache.store(symbols, for: word)
        ids += symbols
    }

    /// Merges in rank order. `ranks[k]` is the rank of the pair (k, k+1), Int32.max when it has
    /// no merge; after a merge only the two neighbouring pairs change.
    private func merge(_ symbols: inout [Int32]) {
        guard symbols.count > 1 else { return }
        var ranks = (0..<symbols.count - 1).map { rank(symbols[$0], symbols[$0 + 1]) }
        while true {
            var best = -1
            var bestRank = Int32.max
            for k in ranks.indices where ranks[k] < bestRank {
                bestRank = ranks[k]
                best = k
            }
            guard best >= 0 else { return }
            symbols[best] = merges[Self.key(symbols[best], symbols[best + 1])]!.result
            symbols.remove(at: best + 1)
            ranks.remove(at: best)
            if best > 0 { ranks[best - 1] = rank(symbols[best - 1], symbols[best]) }
            if best < ranks.count { ranks[best] = rank(symbols[best], symbols[best + 1]) }
        }
    }

    @inline(__always)
    private func rank(_ left: Int32, _ right: Int32) -> Int32 {
        merges[Self.key(left, right)]?.rank ?? Int32.max
    }

    @inline(__always)
    static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }
}

/// Ids of recently seen words, shared by the threads encoding with one tokenizer. Bounded: once
/// full it stops taking new words (as HF's cache does); a word's ids never change, so sharing is safe.
final class WordCache: @unchecked Sendable {
    static let capacity = 10_000
    static let longestWord = 64

    private let lock = NSLock()
    private var entries: [[UInt8]: [Int32]] = [:]

    func ids(of word: UnsafeBufferPointer<UInt8>) -> [Int32]? {
        guard word.count <= Self.longestWord else { return nil }
        let key = Array(word)
        lock.lock()
        defer { lock.unlock() }
        return entries[key]
    }

    func store(_ ids: [Int32], for word: UnsafeBufferPointer<UInt8>) {
        guard word.count <= Self.longestWord else { return }
        lock.lock()
        defer { lock.unlock() }
        if entries.count < Self.capacity { entries[Array(word)] = ids }
    }
}
