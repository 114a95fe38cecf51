import Foundation
import XCTest
import Datasets

final class JSONLinesTests: XCTestCase {
    func testHappyPath() throws {
        let contents = """
            {"text": "a fine film", "label": "pos", "extra": [1, {"x": null}]}

            {"text": "", "label": "neg"}
            {"label": "pos", "text": "caf\\u00e9 \\ud83d\\ude00 \\"quoted\\"\\n"}
            """
        let (dataset, _) = try loadDataset("train.jsonl", contents, options: .fields(label: "label"))
        XCTAssertEqual(dataset.examples, [
            Example(id: "1", text: "a fine film", label: .name("pos")),
            Example(id: "3", text: "", label: .name("neg")),
            Example(id: "4", text: "café 😀 \"quoted\"\n", label: .name("pos")),
        ])
        XCTAssertEqual(dataset.labelMap, LabelMap(names: ["neg", "pos"]))
        XCTAssertEqual(dataset.report, DatasetReport(rowsRead: 3, rowsSkipped: 0, skipped: []))
    }

    func testPairsNumericLabelsAndIds() throws {
        let contents = """
            {"premise": "p1", "hypothesis": "h1", "score": 4.5, "uid": "a-1"}
            {"premise": "p2", "hypothesis": "h2", "score": 0, "uid": 12345678901234567890}
            {"premise": "p3", "hypothesis": "h3", "score": -1e-2, "uid": 7}
            """
        let options = DatasetReadOptions.fields(text: "premise", textPair: "hypothesis", label: "score", id: "uid")
        let (dataset, _) = try loadDataset("sts.jsonl", contents, options: options)
        XCTAssertEqual(dataset.examples, [
            Example(id: "a-1", text: "p1", textPair: "h1", label: .number(4.5)),
            // A numeric id keeps its digits exactly, beyond Double precision.
            Example(id: "12345678901234567890", text: "p2", textPair: "h2", label: .number(0)),
            Example(id: "7", text: "p3", textPair: "h3", label: .number(-0.01)),
        ])
        XCTAssertNil(dataset.labelMap, "numeric labels build no label map")
    }

    func testUnlabelledTextOnly() throws {
        // Task-agnostic distillation: no label field configured, labels ignored.
        let (dataset, _) = try loadDataset("corpus.json", "{\"text\": \"x\", \"label\": true}\n")
        XCTAssertEqual(dataset.examples, [Example(id: "1", text: "x")])
        XCTAssertNil(dataset.labelMap)
    }

    func testWindowsLineEndings() throws {
        let contents = "{\"text\": \"a\", \"label\": 1}\r\n\r\n{\"text\": \"b\", \"label\": 0}\r\n"
        let (dataset, _) = try loadDataset("w.jsonl", contents, options: .fields(label: "label"))
        XCTAssertEqual(dataset.examples, [
            Example(id: "1", text: "a", label: .number(1)),
            Example(id: "3", text: "b", label: .number(0)),
        ])
        assertRowError("w.jsonl", "{\"text\": \"a\"}\r\n{\"text\": 1}\r\n", line: 2,
                       reason: "field 'text' must be a string, got number")
    }

    func testRowErrors() {
        let labelled = DatasetReadOptions.fields(label: "label", id: "id")
        let cases: [(String, Int, String)] = [
            ("{\"text\": \"ok\", \"label\": \"a\", \"id\": 1}\n{\"text\": \"x\", \"label\": \"a\" \"id\": 2}",
             2, "invalid JSON: expected ',' or '}' at column 28"),
            ("{\"text\": \"x\", \"label\": \"a\", \"id\": 1} trailing", 1, "invalid JSON: unexpected text after the JSON value at column 38"),
            ("[\"x\"]", 1, "expected a JSON object, got array"),
            ("\"just a string\"", 1, "expected a JSON object, got string"),
            ("{\"label\": \"a\", \"id\": 1}", 1, "missing field 'text'"),
            ("{\"text\": \"x\", \"id\": 1}", 1, "missing field 'label'"),
            ("{\"text\": \"x\", \"label\": \"a\"}", 1, "missing field 'id'"),
            ("{\"text\": null, \"label\": \"a\", \"id\": 1}", 1, "field 'text' is null"),
            ("{\"text\": [\"x\"], \"label\": \"a\", \"id\": 1}", 1, "field 'text' must be a string, got array"),
            ("{\"text\": \"x\", \"label\": false, \"id\": 1}", 1, "field 'label' must be a string or a number, got boolean"),
            ("{\"text\": \"x\", \"label\": \"a\", \"id\": {}}", 1, "field 'id' must be a string or a number, got object"),
            ("{\"text\": \"x\", \"label\": \"\", \"id\": 1}", 1, "empty label"),
            ("{\"text\": \"x\", \"label\": \"a\", \"id\": \"\"}", 1, "empty id"),
            ("{\"text\": \"x\", \"text\": \"y\", \"label\": \"a\", \"id\": 1}", 1, "invalid JSON: duplicate key \"text\" at column 15"),
            ("{\"text\": \"x\", \"label\": \"a\", \"id\": 1}\n\n{\"text\": \"y\", \"label\": \"b\", \"id\": \"1\"}",
             3, "duplicate id '1' (first on line 1)"),
        ]
        for (contents, line, reason) in cases {
            assertRowError("rows.jsonl", contents, options: labelled, line: line, reason: reason)
        }
    }

    func testPathAsGivenAppearsInErrors() throws {
        // A relative URL reports the path the way the researcher typed it.
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(at: dir.url.appendingPathComponent("data"), withIntermediateDirectories: true)
        try dir.write("data/train.jsonl", "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\"}\n")
        let base = URL(fileURLWithPath: dir.url.path, isDirectory: true)
        let url = URL(fileURLWithPath: "data/train.jsonl", relativeTo: base)
        XCTAssertThrowsError(try Dataset.load(url, options: .fields(label: "label"))) { error in
            XCTAssertEqual("\(error)", "data/train.jsonl:2: missing field 'label'")
        }
    }
}
