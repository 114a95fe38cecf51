import Foundation
import XCTest
import Datasets

final class TSVTests: XCTestCase {
    func testHappyPathWithHeader() throws {
        // Columns in any order, extra columns ignored, empty text allowed,
        // quotes are ordinary characters, blank lines skipped.
        let contents = "idx\tsentence\tlabel\tnote\n0\tit's \"great\"\t1\tx\n\n1\t\t0\t\n2\ta, b\t1\ty\n"
        let (dataset, _) = try loadDataset("sst2.tsv", contents, options: .fields(text: "sentence", label: "label", id: "idx"))
        XCTAssertEqual(dataset.examples, [
            Example(id: "0", text: "it's \"great\"", label: .number(1)),
            Example(id: "1", text: "", label: .number(0)),
            Example(id: "2", text: "a, b", label: .number(1)),
        ])
        XCTAssertNil(dataset.labelMap)
        XCTAssertEqual(dataset.report.rowsRead, 3)
    }

    func testPairsAndNamedLabels() throws {
        let contents = "premise\thypothesis\tgold\nA man.\tA person.\tentailment\nA dog.\tA cat.\tcontradiction\n"
        let options = DatasetReadOptions.fields(text: "premise", textPair: "hypothesis", label: "gold")
        let (dataset, _) = try loadDataset("mnli.tsv", contents, options: options)
        XCTAssertEqual(dataset.examples, [
            Example(id: "2", text: "A man.", textPair: "A person.", label: .name("entailment")),
            Example(id: "3", text: "A dog.", textPair: "A cat.", label: .name("contradiction")),
        ])
        XCTAssertEqual(dataset.labelMap?.names, ["contradiction", "entailment"])
    }

    func testWithoutHeaderFieldsAreColumnIndices() throws {
        let contents = "pos\tgood film\nneg\tbad film\n"
        let (dataset, _) = try loadDataset("raw.tsv", contents, options: .fields(text: "1", label: "0", hasHeader: false))
        XCTAssertEqual(dataset.examples, [
            Example(id: "1", text: "good film", label: .name("pos")),
            Example(id: "2", text: "bad film", label: .name("neg")),
        ])
        // The first row sets the width the others must have.
        assertRowError("raw.tsv", "pos\tgood\nneg\tbad\textra\n", options: .fields(text: "1", hasHeader: false),
                       line: 2, reason: "expected 2 columns as in line 1, found 3")
        assertRowError("raw.tsv", "only one column\n", options: .fields(text: "1", hasHeader: false),
                       line: 1, reason: "no column 1 (for field '1') in a row of 1 columns")
    }

    func testWithoutHeaderRejectsNamesAsFields() throws {
        let dir = try TemporaryDirectory()
        let url = try dir.write("raw.tsv", "a\tb\n")
        XCTAssertThrowsError(try Dataset.load(url, options: .fields(text: "sentence", hasHeader: false))) { error in
            XCTAssertEqual(error as? DatasetError, DatasetError(
                path: url.path,
                reason: "without a header, fields are 0-based column indices; the text field is 'sentence'"))
        }
    }

    func testWindowsLineEndings() throws {
        let contents = "text\tlabel\r\nhello\tgreeting\r\n\r\nbye\tfarewell\r\n"
        let (dataset, _) = try loadDataset("w.tsv", contents, options: .fields(label: "label"))
        XCTAssertEqual(dataset.examples, [
            Example(id: "2", text: "hello", label: .name("greeting")),
            Example(id: "4", text: "bye", label: .name("farewell")),
        ])
    }

    func testRowErrors() {
        let options = DatasetReadOptions.fields(label: "label")
        assertRowError("t.tsv", "text\tlabel\na\t1\nb\n", options: options,
                       line: 3, reason: "expected 2 columns as in the header, found 1")
        assertRowError("t.tsv", "text\tlabel\na\t1\nb\t1\tc\n", options: options,
                       line: 3, reason: "expected 2 columns as in the header, found 3")
        assertRowError("t.tsv", "text\tlabel\na\t\n", options: options, line: 2, reason: "empty label")
    }

    func testHeaderErrorsThrowEvenWhenSkippingRows() {
        let options = DatasetReadOptions.fields(label: "label", skipBadRows: true)
        assertRowError("t.tsv", "\nsentence\tlabel\nx\t1\n", options: options,
                       line: 2, reason: "no column 'text' in the header (columns: 'sentence', 'label')")
        assertRowError("t.tsv", "text\tlabel\tlabel\nx\t1\t2\n", options: options,
                       line: 1, reason: "column 'label' appears 2 times in the header")
    }
}
