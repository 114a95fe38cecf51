import Foundation
import TestSupport
import XCTest

/// pipelines/multilingual.yaml end to end (about 20 s): an XLM-R-family teacher fine-tuned on the
/// 8-language CLDR task, cached, and four students — two with its SentencePiece tokenizer, a BERT
/// and a DistilBERT with a WordPiece tokenizer of their own — trained, exported as their families,
/// and scored on dev and test with their own tokenizers.
final class MultilingualStudyTests: XCTestCase {
    func testMultilingualStudyRunsEndToEnd() throws {
        guard (try? shell("python3 -c 'import babel'").status) == 0 else {
            throw XCTSkip("the PyPI package babel is missing (make setup-python installs it): it holds the multilingual data")
        }
        let folder = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = try runProgram("python3", [packageRoot.appendingPathComponent("pipelines/data/cldr_language_id.py").path, "--out", folder.path])
        XCTAssertEqual(data.status, 0, data.stderr)
        // The shipped pipeline, its relative paths made absolute (data here, fixtures in the package).
        let shipped = try String(contentsOf: packageRoot.appendingPathComponent("pipelines/multilingual.yaml"), encoding: .utf8)
        let pipeline = folder.appendingPathComponent("multilingual.yaml")
        try shipped.replacingOccurrences(of: "data/cldr-language-id", with: folder.appendingPathComponent("cldr-language-id").path)
            .replacingOccurrences(of: "Tests/Fixtures/", with: packageRoot.appendingPathComponent("Tests/Fixtures").path + "/")
            .write(to: pipeline, atomically: true, encoding: .utf8)
        let results = folder.appendingPathComponent("results")
        let run = try CLI.run(["run", pipeline.path, "--results", results.path, "--threads", "2"])
        XCTAssertEqual(run.status, 0, run.stderr)

        // Every row above chance (1/8) by far: test macro-F1 measured 0.67–0.76.
        let study = results.appendingPathComponent("multilingual")
        let rows = try JSONSerialization.jsonObject(with: Data(contentsOf: study.appendingPathComponent("results.json"))) as! [String: Any]
        let students = try XCTUnwrap(rows["rows"] as? [[String: Any]], "\(rows.keys)")
        XCTAssertEqual(students.count, 5, "the teacher and four students")
        XCTAssertTrue(run.stdout.contains("mbert-pooled") && run.stdout.contains("distilbert-pooled"), run.stdout)
        for line in run.stdout.split(separator: "\n") where line.hasPrefix("| ") && !line.contains("student ") && !line.contains(":---") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            let macroF1 = try XCTUnwrap(Double(cells[cells.count - 3].split(separator: " ").first ?? ""), String(line))
            XCTAssertGreaterThan(macroF1, 0.4, "test macro-F1: \(line)")
        }
        // Exported as their families, each with its own tokenizer.
        for (name, family, tokenizerFile) in [("xlmr-kd", "xlm-roberta", "sentencepiece.bpe.model"), ("mbert-pooled", "bert", "vocab.txt"),
                                              ("distilbert-pooled", "distilbert", "vocab.txt")] {
            let best = study.appendingPathComponent("students/\(name)/best")
            let config = try JSONSerialization.jsonObject(with: Data(contentsOf: best.appendingPathComponent("config.json"))) as! [String: Any]
            XCTAssertEqual(config["model_type"] as? String, family, name)
            XCTAssertTrue(FileManager.default.fileExists(atPath: best.appendingPathComponent(tokenizerFile).path), "\(name): \(tokenizerFile)")
        }
    }
}
