import Foundation
import SafeTensors
import TestSupport
import XCTest

/// A teacher of another family through the commands: an XLM-R folder with a SentencePiece
/// tokenizer (Tests/Fixtures/families/xlm-roberta-multilingual) tokenized, run forward and cached;
/// tokenizer files that disagree with config.json are refused by name before any work.
final class FamilyCommandTests: XCTestCase {
    static let xlmr = packageRoot.appendingPathComponent("Tests/Fixtures/families/xlm-roberta-multilingual")

    func testXLMRobertaTeacherTokenizesRunsForwardAndCaches() throws {
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        // tokenize: XLM-R's specials (<s> 0 … </s> 2, pairs <s> A </s></s> B </s>).
        let tokens = try CLI.run(["tokenize", "--model", Self.xlmr.path], stdin: "Allemagne, janvier\nΕλλάδα\tРоссия\n")
        XCTAssertEqual(tokens.status, 0, tokens.stderr)
        let lines = tokens.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let first = try XCTUnwrap(lines.first?["input_ids"] as? [Int]), pair = try XCTUnwrap(lines.last?["input_ids"] as? [Int])
        XCTAssertEqual(first.first, 0); XCTAssertEqual(first.last, 2)
        XCTAssertEqual(pair.filter { $0 == 2 }.count, 3, "pair: <s> A </s></s> B </s>")

        // forward: hidden states and attention of every layer, padded with <pad> = 1.
        let input = work.appendingPathComponent("in.txt"), out = work.appendingPathComponent("out.safetensors")
        try "Allemagne, janvier, Brésil\nΕλλάδα\n".write(to: input, atomically: true, encoding: .utf8)
        let forward = try CLI.run(["forward", "--model", Self.xlmr.path, "--input", input.path, "--out", out.path, "--capture", "hidden", "attentions", "--threads", "1"])
        XCTAssertEqual(forward.status, 0, forward.stderr)
        let file = try SafeTensorsFile(url: out)
        XCTAssertEqual(file.tensors["hidden.2"]?.shape.last, 64)
        XCTAssertNotNil(file.tensors["attention.2"])
        XCTAssertTrue(try file.int64s("input_ids").contains(1), "the short row is padded with <pad> (1)")
        XCTAssertTrue(try file.floats("hidden.2").allSatisfy(\.isFinite))

        // cache: the texts and the tokenizer's ids; verify passes.
        let data = work.appendingPathComponent("data.jsonl")
        try ["Allemagne, janvier", "Ελλάδα, Μάιος", "Россия, январь", "Deutschland, Januar"].enumerated()
            .map { #"{"id": "r\#($0.offset)", "text": "\#($0.element)"}"# }.joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        let cache = work.appendingPathComponent("cache.h5")
        let built = try CLI.run(["cache", "--teacher", Self.xlmr.path, "--data", data.path, "--out", cache.path, "--hidden", "0,2", "--threads", "1"])
        XCTAssertEqual(built.status, 0, built.stderr)
        let verified = try CLI.run(["verify", cache.path])
        XCTAssertEqual(verified.status, 0, verified.output)
    }

    /// A tokenizer whose vocabulary or padding id is not the model's is refused, naming the files.
    func testTokenizerThatDisagreesWithConfigIsRefused() throws {
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let input = work.appendingPathComponent("in.txt")
        try "Allemagne\n".write(to: input, atomically: true, encoding: .utf8)
        for (edit, expected) in [(["vocab_size": 2_600], "tokenizer.json has 2502 tokens but config.json says vocab_size 2600"),
                                 (["pad_token_id": 0], "padding token has id 1 but config.json says pad_token_id 0")] as [([String: Any], String)] {
            let folder = work.appendingPathComponent("model-\(edit.keys.first!)")
            try FileManager.default.copyItem(at: Self.xlmr, to: folder)
            var config = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("config.json"))) as! [String: Any]
            config.merge(edit) { $1 }
            try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("config.json"))
            if edit["vocab_size"] != nil {
                // Weights that fit the config's vocabulary, so only the tokenizer disagrees.
                let weights = try SafeTensorsFile(url: Self.xlmr.appendingPathComponent("model.safetensors"))
                var writer = SafeTensorsWriter()
                for name in weights.names {
                    var shape = weights.tensors[name]!.shape, values = try weights.floats(name)
                    if name.hasSuffix("word_embeddings.weight") { values += [Float](repeating: 0, count: 98 * shape[1]); shape[0] = 2_600 }
                    try writer.add(name, shape: shape, floats: values)
                }
                try writer.write(to: folder.appendingPathComponent("model.safetensors"))
            }
            let result = try CLI.run(["forward", "--model", folder.path, "--input", input.path, "--out", work.appendingPathComponent("o").path])
            XCTAssertNotEqual(result.status, 0)
            XCTAssertTrue(result.output.contains(expected) && result.output.contains(folder.path), result.output)
        }
    }
}

/// `distillery train` with a student that has its own tokenizer: trains from a BERT teacher's
/// cache; a token-level objective is refused before any work, naming it and the reason.
final class StudentTokenizerCommandTests: XCTestCase {
    func testTrainWithTheStudentsOwnTokenizer() throws {
        let work = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let teacher = try CLI.tinyModelFolder()
        let data = work.appendingPathComponent("data.jsonl")
        try (0..<16).map { #"{"id": "r\#($0)", "text": "the cat sat on the mat \#($0)", "label": "\#(["a", "b", "c"][$0 % 3])"}"# }
            .joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        let cache = work.appendingPathComponent("train.h5")
        let built = try CLI.run(["cache", "--teacher", teacher.path, "--data", data.path, "--out", cache.path, "--label-field", "label",
                                 "--hidden", "2", "--logits", "full", "--threads", "1"])
        XCTAssertEqual(built.status, 0, built.stderr)
        let unigram = packageRoot.appendingPathComponent("Tests/Fixtures/tokenizer/unigram")
        let common = ["train", "--cache", cache.path, "--teacher", teacher.path, "--student-tokenizer", unigram.path, "--family", "xlm-roberta",
                      "--layers", "1", "--max-steps", "2", "--batch-size", "8", "--threads", "1"]
        let out = work.appendingPathComponent("run")
        let trained = try CLI.run(common + ["--out", out.path, "--objective", "kd=1", "--objective", "pooled_mse=1", "--pooling", "first"])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("final/sentencepiece.bpe.model").path))
        let refused = try CLI.run(common + ["--out", work.appendingPathComponent("refused").path, "--objective", "hidden_mse=1"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.output.contains("hidden_mse compare the student and teacher token by token"), refused.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: work.appendingPathComponent("refused/final").path))
    }
}
