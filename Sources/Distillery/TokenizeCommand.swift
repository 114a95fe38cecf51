import ArgumentParser
import Datasets
import Foundation
import Tokenization

/// `distillery tokenize`: what the teacher will see, for debugging a dataset.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize lines from standard input (text, or text<TAB>pair) into JSON Lines.",
        discussion: "Each output line holds input_ids, token_type_ids and tokens, exactly as the teacher receives them."
    )

    @OptionGroup var model: ModelOptions

    @Option(name: .long, help: "Truncate to this many tokens including [CLS]/[SEP] (longest-first for pairs).")
    var maxLength: Int?

    func validate() throws {
        if let maxLength, maxLength < 3 { throw ValidationError("--max-length must be at least 3") }
    }

    func run() throws {
        let tokenizer = try loadTokenizer(modelDirectory: URL(fileURLWithPath: model.model))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Invalid UTF-8 is refused by line (as `cache` does), not replaced with U+FFFD.
        let input = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
        for line in try textLines(input, origin: "standard input") {
            let parts = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            let encoding = tokenizer.encode(String(parts[0]), pair: parts.count > 1 ? String(parts[1]) : nil, maxLength: maxLength)
            let record = TokenizedLine(input_ids: encoding.inputIds, token_type_ids: encoding.tokenTypeIds, tokens: encoding.tokens)
            print(String(decoding: try encoder.encode(record), as: UTF8.self))
        }
    }
}

private struct TokenizedLine: Encodable {
    let input_ids: [Int32]
    let token_type_ids: [Int32]
    let tokens: [String]
}
