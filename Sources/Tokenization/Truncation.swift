/// How many tokens HF's 'longest_first' truncation cuts from the end of each sequence to remove
/// `excess` tokens: one at a time from the longer one, from the second when they are equally long
/// (transformers `truncate_sequences`, which computes the same in closed form). A sequence never
/// loses more than it has. BertTokenizerFast splits ties and odd remainders differently; the slow
/// tokenizer is the reference here.
func longestFirstCuts(firstCount: Int, secondCount: Int, excess: Int) -> (first: Int, second: Int) {
    guard excess > 0 else { return (0, 0) }
    let untilEqual = min(abs(firstCount - secondCount), excess)
    let shared = excess - untilEqual
    let first: Int, second: Int
    if firstCount > secondCount {
        (first, second) = (untilEqual + shared / 2, shared - shared / 2)
    } else {
        (first, second) = (shared / 2, untilEqual + shared - shared / 2)
    }
    return (min(first, firstCount), min(second, secondCount))
}
