import Foundation
import XCTest
import Datasets
import Hashing

final class DatasetLoadTests: XCTestCase {
    func testContentHashAndSize() throws {
        let dir = try TemporaryDirectory()
        let contents = "text\tlabel\nhello\t1\n"
        let url = try dir.write("h.tsv", contents)
        let dataset = try Dataset.load(url, options: .fields(label: "label"))
        XCTAssertEqual(dataset.contentHash, try ContentHash.file(at: url))
        XCTAssertEqual(dataset.byteSize, contents.utf8.count)
        XCTAssertEqual(dataset.url, url)
    }

    func testFormatInference() {
        func infer(_ path: String) -> DatasetFormat? { DatasetFormat.infer(from: URL(fileURLWithPath: path)) }
        XCTAssertEqual(infer("a/train.jsonl"), .jsonl)
        XCTAssertEqual(infer("train.JSON"), .jsonl)
        XCTAssertEqual(infer("train.ndjson"), .jsonl)
        XCTAssertEqual(infer("dev.tsv"), .tsv)
        XCTAssertEqual(infer("dev.Csv"), .csv)
        XCTAssertNil(infer("dev.txt"))
        XCTAssertNil(infer("dev"))
        XCTAssertEqual(DatasetFormat.allCases.map(\.rawValue), ["jsonl", "tsv", "csv"])
    }

    func testExplicitFormatOverridesExtension() throws {
        var options = DatasetReadOptions()
        options.format = .tsv
        let (dataset, _) = try loadDataset("data.txt", "text\nhi, there\n", options: options)
        XCTAssertEqual(dataset.examples, [Example(id: "2", text: "hi, there")])
    }

    func testFileAndOptionErrorsNameThePath() throws {
        let dir = try TemporaryDirectory()
        let missing = dir.url.appendingPathComponent("missing.jsonl")
        XCTAssertThrowsError(try Dataset.load(missing)) { error in
            XCTAssertEqual(error as? DatasetError, DatasetError(path: missing.path, reason: "no such file"))
        }
        let folder = dir.url.appendingPathComponent("folder.csv")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        XCTAssertThrowsError(try Dataset.load(folder)) { error in
            XCTAssertEqual("\(error)", "\(folder.path): is a directory, not a dataset file")
        }
        let unknown = try dir.write("notes.txt", "hi")
        XCTAssertThrowsError(try Dataset.load(unknown)) { error in
            XCTAssertEqual("\(error)", "\(unknown.path): cannot tell the format from the extension 'txt'; set it to jsonl, tsv or csv")
        }
    }

    func testSkipBadRowsCountsAndKeepsFirstTen() throws {
        // 15 bad rows among 5 good ones.
        var lines = ["text,label"]
        for i in 0..<20 {
            lines.append(i % 4 == 0 ? "good \(i),a" : "bad \(i)")
        }
        let contents = lines.joined(separator: "\n") + "\n"
        let (dataset, path) = try loadDataset("s.csv", contents, options: .fields(label: "label", skipBadRows: true))
        XCTAssertEqual(dataset.examples.map(\.text), ["good 0", "good 4", "good 8", "good 12", "good 16"])
        XCTAssertEqual(dataset.report.rowsRead, 5)
        XCTAssertEqual(dataset.report.rowsSkipped, 15)
        XCTAssertEqual(dataset.report.skipped.count, DatasetReport.keptErrorLimit)
        XCTAssertEqual(dataset.report.skipped.first?.description, "\(path):3: expected 2 columns as in the header, found 1")
        XCTAssertEqual(dataset.report.skipped.last?.line, 15)  // the tenth bad row, i = 13

        // Without skipping, the first bad row is thrown.
        assertRowError("s.csv", contents, options: .fields(label: "label"),
                       line: 3, reason: "expected 2 columns as in the header, found 1")
    }

    func testEmptyFileHasNoExamples() throws {
        for name in ["e.jsonl", "e.tsv", "e.csv"] {
            let (dataset, _) = try loadDataset(name, "")
            XCTAssertEqual(dataset.examples, [], name)
            XCTAssertEqual(dataset.report, DatasetReport(), name)
            XCTAssertEqual(dataset.byteSize, 0)
        }
    }

    func testSameExamplesFromEveryFormat() throws {
        let jsonl = "{\"id\": \"a\", \"text\": \"x y\", \"label\": \"pos\"}\n{\"id\": \"b\", \"text\": \"z\", \"label\": \"neg\"}\n"
        let tsv = "id\ttext\tlabel\na\tx y\tpos\nb\tz\tneg\n"
        let csv = "id,text,label\na,x y,pos\nb,\"z\",neg\n"
        let options = DatasetReadOptions.fields(label: "label", id: "id")
        let loaded = try [("d.jsonl", jsonl), ("d.tsv", tsv), ("d.csv", csv)].map {
            try loadDataset($0.0, $0.1, options: options).0
        }
        for dataset in loaded {
            XCTAssertEqual(dataset.examples, [
                Example(id: "a", text: "x y", label: .name("pos")),
                Example(id: "b", text: "z", label: .name("neg")),
            ])
            XCTAssertEqual(dataset.labelMap, LabelMap(names: ["neg", "pos"]))
        }
    }
}
