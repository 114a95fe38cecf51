/// Where the specials go around one sequence or a pair, and each position's token type: HF's
/// TemplateProcessing, which RobertaProcessing and BertProcessing are cases of.
///
///     RoBERTa, XLM-R   single  <s> A </s>         pair  <s> A </s> </s> B </s>        types all 0
///     BERT             single  [CLS] A [SEP]      pair  [CLS] A [SEP] B [SEP]         B [SEP] type 1
struct PostProcessor: Sendable {
    enum Piece: Sendable {
        case special(ids: [Int32], typeId: Int32)
        /// The first sequence (A) or the pair (B).
        case sequence(first: Bool, typeId: Int32)
    }

    var single: [Piece]
    var pair: [Piece]

    /// No specials at all (tokenizer.json with "post_processor": null).
    static let none = PostProcessor(single: [.sequence(first: true, typeId: 0)],
                                    pair: [.sequence(first: true, typeId: 0), .sequence(first: false, typeId: 0)])

    static func roberta(cls: Int32, sep: Int32) -> PostProcessor {
        PostProcessor(
            single: [.special(ids: [cls], typeId: 0), .sequence(first: true, typeId: 0), .special(ids: [sep], typeId: 0)],
            pair: [.special(ids: [cls], typeId: 0), .sequence(first: true, typeId: 0), .special(ids: [sep], typeId: 0),
                   .special(ids: [sep], typeId: 0), .sequence(first: false, typeId: 0), .special(ids: [sep], typeId: 0)])
    }

    static func bert(cls: Int32, sep: Int32) -> PostProcessor {
        PostProcessor(
            single: [.special(ids: [cls], typeId: 0), .sequence(first: true, typeId: 0), .special(ids: [sep], typeId: 0)],
            pair: [.special(ids: [cls], typeId: 0), .sequence(first: true, typeId: 0), .special(ids: [sep], typeId: 0),
                   .sequence(first: false, typeId: 1), .special(ids: [sep], typeId: 1)])
    }

    /// How many special ids the template adds (what truncation leaves room for).
    func addedCount(pair isPair: Bool) -> Int {
        (isPair ? pair : single).reduce(0) { count, piece in
            if case .special(let ids, _) = piece { return count + ids.count }
            return count
        }
    }

    func apply(first: [Int32], second: [Int32]?) -> (inputIds: [Int32], tokenTypeIds: [Int32]) {
        var inputIds: [Int32] = [], tokenTypeIds: [Int32] = []
        inputIds.reserveCapacity(first.count + (second?.count ?? 0) + 6)
        tokenTypeIds.reserveCapacity(inputIds.capacity)
        for piece in second == nil ? single : pair {
            switch piece {
            case .special(let ids, let typeId):
                inputIds += ids
                tokenTypeIds += repeatElement(typeId, count: ids.count)
            case .sequence(let isFirst, let typeId):
                let ids = isFirst ? first : second ?? []
                inputIds += ids
                tokenTypeIds += repeatElement(typeId, count: ids.count)
            }
        }
        return (inputIds, tokenTypeIds)
    }
}

/// How many tokens each sequence keeps under `tokenizers`' 'longest_first' (Rust
/// `truncate_encodings`), given the room left after the specials: with a pair, the shorter keeps
/// all it has if the longer can still get at least as much, else both get half (the first sequence
/// the odd token when it is the longer). Differs from transformers' Python truncation
/// (`longestFirstCuts`) on ties and odd remainders.
func fastLongestFirstLengths(first: Int, second: Int?, room: Int) -> (first: Int, second: Int) {
    guard let second else { return (min(first, room), 0) }
    guard room > 0 else { return (0, 0) }
    guard first + second > room else { return (first, second) }
    let swapped = first > second
    var shorter = min(first, second), longer = max(first, second)
    longer = shorter > room ? shorter : max(shorter, room - shorter)
    if shorter + longer > room {
        shorter = room / 2
        longer = shorter + room % 2
    }
    let kept = swapped ? (longer, shorter) : (shorter, longer)
    return (min(kept.0, first), min(kept.1, second))
}
