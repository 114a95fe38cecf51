import Foundation
import XCTest
import Datasets

final class CSVTests: XCTestCase {
    func testHappyPath() throws {
        let contents = "text,label\nplain,pos\n\"with, comma\",neg\n"
        let (dataset, _) = try loadDataset("train.csv", contents, options: .fields(label: "label"))
        XCTAssertEqual(dataset.examples, [
            Example(id: "2", text: "plain", label: .name("pos")),
            Example(id: "3", text: "with, comma", label: .name("neg")),
        ])
        XCTAssertEqual(dataset.labelMap, LabelMap(names: ["neg", "pos"]))
    }

    func testQuotingEdgeCases() throws {
        let contents = [
            "id,text,label",
            "a,\"she said \"\"hi\"\"\",1",         // doubled quotes
            "b,\"\",0",                            // empty quoted field
            "c,,1",                                // empty unquoted field
            "d,\"line one",                        // newline inside quotes...
            "line two, still \"\"quoted\"\"\",0",  // ...ends here
            "e,6\" tall,1",                        // stray quote in an unquoted field is literal
            "f,\"\"\"\",0",                        // a field that is one quote
            "g,\"a,b\",\"1\"",                     // quoted label
        ].joined(separator: "\n")  // no final newline
        let (dataset, _) = try loadDataset("q.csv", contents, options: .fields(label: "label", id: "id"))
        XCTAssertEqual(dataset.examples.map(\.text), [
            "she said \"hi\"", "", "", "line one\nline two, still \"quoted\"", "6\" tall", "\"", "a,b",
        ])
        XCTAssertEqual(dataset.examples.map(\.id), ["a", "b", "c", "d", "e", "f", "g"])
        XCTAssertEqual(dataset.examples.last?.label, .number(1))
    }

    func testTrailingEmptyFieldAndSingleColumn() throws {
        let (pairs, _) = try loadDataset("p.csv", "text,pair\nx,\n", options: .fields(textPair: "pair"))
        XCTAssertEqual(pairs.examples, [Example(id: "2", text: "x", textPair: "")])
        // A single-column file writes an empty text as "" so it is not a blank line.
        let (single, _) = try loadDataset("s.csv", "text\n\"\"\nhello\n\n")
        XCTAssertEqual(single.examples, [Example(id: "2", text: ""), Example(id: "3", text: "hello")])
    }

    func testLineNumbersAfterMultilineRecords() {
        // The record on line 4 starts after a quoted field spanning lines 2-3.
        let contents = "text,label\n\"two\nlines\",a\nshort\n"
        assertRowError("m.csv", contents, options: .fields(label: "label"),
                       line: 4, reason: "expected 2 columns as in the header, found 1")
        // An error in a multi-line record is reported where the record starts.
        assertRowError("m.csv", "text,label\nok,a\n\"two\nlines\",a,extra\n", options: .fields(label: "label"),
                       line: 3, reason: "expected 2 columns as in the header, found 3")
    }

    func testWindowsLineEndings() throws {
        // "\r\n" ends records; inside quotes it is text and kept as written.
        let contents = "text,label\r\nhello,1\r\n\"multi\r\nline\",0\r\n\r\n\"quoted\",1\r\n"
        let (dataset, _) = try loadDataset("w.csv", contents, options: .fields(label: "label"))
        XCTAssertEqual(dataset.examples, [
            Example(id: "2", text: "hello", label: .number(1)),
            Example(id: "3", text: "multi\r\nline", label: .number(0)),
            Example(id: "6", text: "quoted", label: .number(1)),
        ])
    }

    func testByteOrderMarkBeforeHeader() throws {
        // Spreadsheet exports begin with a BOM; it must not become part of "text".
        let contents = Data([0xEF, 0xBB, 0xBF]) + Data("text\nhi\n".utf8)
        let (dataset, _) = try loadDataset("excel.csv", contents)
        XCTAssertEqual(dataset.examples, [Example(id: "2", text: "hi")])
    }

    func testQuotingErrors() {
        assertRowError("e.csv", "text,label\nok,1\n\"never closed,1\nmore,0\n", options: .fields(label: "label"),
                       line: 3, reason: "unterminated quoted field (field 1)")
        assertRowError("e.csv", "text,label\n\"closed\"early,1\n", options: .fields(label: "label"),
                       line: 2, reason: "unexpected text after the closing quote of field 1")
    }

    func testSkippingMalformedRecordResumesOnNextLine() throws {
        let contents = "text,label\n\"bad\"x,1\ngood,0\n"
        let (dataset, path) = try loadDataset("e.csv", contents, options: .fields(label: "label", skipBadRows: true))
        XCTAssertEqual(dataset.examples, [Example(id: "3", text: "good", label: .number(0))])
        XCTAssertEqual(dataset.report.rowsSkipped, 1)
        XCTAssertEqual(dataset.report.skipped.map(\.description),
                       ["\(path):2: unexpected text after the closing quote of field 1"])
    }
}
