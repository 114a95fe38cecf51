import Foundation
import Hashing
import Bert
import Tokenization

/// The hash a cache records as its teacher's vocabulary: of the file(s) the teacher's tokenizer is
/// read from (vocab.txt for BERT, so caches of BERT teachers keep the hash they always had;
/// tokenizer.json, vocab.json + merges.txt or sentencepiece.bpe.model for other families).
/// Remembered per file, so a group of students hashes the teacher once.
public enum VocabularyIdentity {
    public static func sha256(of modelDirectory: URL) throws -> String {
        let files = try TokenizerFormat.chosen(in: modelDirectory).files
        let hashes = try files.map { try RememberedHash.file(at: $0) }
        return hashes.count == 1 ? hashes[0] : ContentHash.data(Data(hashes.joined(separator: "\n").utf8))
    }
}

/// A teacher's tokenizer (`loadTokenizer`: whichever files its folder has), checked against its
/// `config.json`: the vocabulary must be the embedding table's size and the padding id the one
/// the model was built with (RoBERTa's position ids count from it).
public func loadTeacherTokenizer(_ folder: URL, config: BertConfig) throws -> any Tokenizer {
    let tokenizer = try loadTokenizer(modelDirectory: folder)
    let files = (try? TokenizerFormat.chosen(in: folder).files.map(\.lastPathComponent).joined(separator: " + ")) ?? "the tokenizer"
    guard tokenizer.vocabularySize == config.vocabSize else {
        throw CacheError.incompatible("\(folder.path): \(files) has \(tokenizer.vocabularySize) tokens but config.json says vocab_size \(config.vocabSize)")
    }
    guard Int(tokenizer.padId) == config.padTokenId else {
        throw CacheError.incompatible("\(folder.path): the tokenizer's padding token has id \(tokenizer.padId) but config.json says pad_token_id \(config.padTokenId)")
    }
    return tokenizer
}
