/// A unigram language model over pieces (SentencePiece's, as HF `tokenizers`' `Unigram`): the
/// segmentation of a pre-tokenized word with the highest total score (Viterbi). A scalar that
/// starts no piece of its own becomes the unknown token, scored `minScore - 10`; consecutive
/// unknowns fuse into one.
struct UnigramModel: Sendable {
    static let unknownPenalty = 10.0

    let pieces: TokenTable
    /// Score of each id (added tokens outside the model score 0 and are never looked up here).
    let scores: [Double]
    let unknownId: Int32
    let unknownScore: Double

    init(pieces: TokenTable, scores: [Double], unknownId: Int32) {
        self.pieces = pieces
        self.scores = scores
        self.unknownId = unknownId
        unknownScore = (scores.min() ?? 0) - Self.unknownPenalty
    }

    /// One lattice node: the best path ending at this byte offset.
    private struct Node {
        var score = 0.0
        var start = -1
        var id: Int32 = -1
    }

    func appendIds(of word: UnsafeBufferPointer<UInt8>, to ids: inout [Int32]) {
        let size = word.count
        guard size > 0 else { return }
        var best = [Node](repeating: Node(), count: size + 1)
        best[0].start = 0
        let longest = pieces.maxKeyLength
        var start = 0
        while start < size {
            let here = best[start].score
            let scalarLength = decodeScalar(word, at: start).length
            var hasSingleScalarPiece = false
            // Every piece starting here, shortest first (a trie's prefix search), scalar by scalar.
            var end = start + scalarLength
            while end <= size && end - start <= longest {
                if let id = pieces.id(for: UnsafeBufferPointer(rebasing: word[start..<end])) {
                    let candidate = here + scores[Int(id)]
                    if best[end].start < 0 || candidate > best[end].score {
                        best[end] = Node(score: candidate, start: start, id: id)
                    }
                    if end - start == scalarLength { hasSingleScalarPiece = true }
                }
                if end == size { break }
                end += decodeScalar(word, at: end).length
            }
            if !hasSingleScalarPiece {
                let candidate = here + unknownScore
                let target = start + scalarLength
                if best[target].start < 0 || candidate > best[target].score {
                    best[target] = Node(score: candidate, start: start, id: unknownId)
                }
            }
            start += scalarLength
        }
        // Back from the end; unknowns next to each other become one.
        var path: [Int32] = []
        var position = size
        while position > 0 {
            let node = best[position]
            if !(node.id == unknownId && path.last == unknownId) { path.append(node.id) }
            position = node.start
        }
        ids += path.reversed()
    }
}
