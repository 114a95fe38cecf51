import Foundation
import XCTest
import Datasets

final class LabelMapTests: XCTestCase {
    func testBuiltMapIsSortedAndIndependentOfRowOrder() throws {
        let rows = ["{\"text\": \"1\", \"label\": \"pos\"}", "{\"text\": \"2\", \"label\": \"neutral\"}",
                    "{\"text\": \"3\", \"label\": \"neg\"}", "{\"text\": \"4\", \"label\": \"pos\"}"]
        let options = DatasetReadOptions.fields(label: "label")
        let (forward, _) = try loadDataset("a.jsonl", rows.joined(separator: "\n"), options: options)
        let (reversed, _) = try loadDataset("b.jsonl", rows.reversed().joined(separator: "\n"), options: options)
        XCTAssertEqual(forward.labelMap, LabelMap(names: ["neg", "neutral", "pos"]))
        XCTAssertEqual(reversed.labelMap, forward.labelMap)
    }

    func testIndexOf() throws {
        let map = LabelMap(names: ["neg", "pos"])
        XCTAssertEqual(try map.index(of: .name("neg")), 0)
        XCTAssertEqual(try map.index(of: .name("pos")), 1)
        XCTAssertEqual(try map.index(of: .number(1)), 1)
        XCTAssertThrowsError(try map.index(of: .name("meh"))) { error in
            XCTAssertEqual("\(error)", "unknown label 'meh' (known: 'neg', 'pos')")
        }
        XCTAssertThrowsError(try map.index(of: .number(2))) { error in
            XCTAssertEqual("\(error)", "label 2 is not a class index (expected 0...1)")
        }
        XCTAssertThrowsError(try map.index(of: .number(0.5))) { error in
            XCTAssertEqual("\(error)", "label 0.5 is not a class index (expected 0...1)")
        }
    }

    func testFixedMapRejectsUnknownLabels() throws {
        let map = LabelMap(names: ["neg", "pos"])
        let options = DatasetReadOptions.fields(label: "label", labelMap: map)
        assertRowError("f.csv", "text,label\na,pos\nb,meh\n", options: options,
                       line: 3, reason: "unknown label 'meh' (known: 'neg', 'pos')")
        assertRowError("f.jsonl", "{\"text\": \"a\", \"label\": 3}", options: options,
                       line: 1, reason: "label 3 is not a class index (expected 0...1)")
        // The fixed map is returned even if some classes never occur.
        let (dataset, _) = try loadDataset("f.csv", "text,label\na,pos\nb,1\n", options: options)
        XCTAssertEqual(dataset.labelMap, map)
        XCTAssertEqual(try dataset.examples.map { try map.index(of: $0.label!) }, [1, 1])
    }

    func testFixedMapNamesWinOverNumbersInDelimitedCells() throws {
        // Class names that look like numbers, in an order that is not numeric.
        let map = LabelMap(names: ["1", "0"])
        let (dataset, _) = try loadDataset("n.tsv", "text\tlabel\na\t0\n", options: .fields(label: "label", labelMap: map))
        XCTAssertEqual(dataset.examples.first?.label, .name("0"))
        XCTAssertEqual(try map.index(of: dataset.examples[0].label!), 1)
    }

    func testDelimitedCellsAreNumbersOnlyWhenPlainDecimals() throws {
        let contents = "text,label\na,3.5\nb,-2e1\nc,nan\nd,0x10\ne,inf\n"
        let (dataset, _) = try loadDataset("d.csv", contents, options: .fields(label: "label", skipBadRows: true))
        // Only the names remain after the first label fixes the kind to numbers.
        XCTAssertEqual(dataset.examples.map(\.label), [.number(3.5), .number(-20)])
        XCTAssertEqual(dataset.report.rowsSkipped, 3)
        XCTAssertEqual(dataset.report.skipped.first?.reason,
                       "label 'nan' is a name but earlier labels are numbers (line 2); pass a label map to mix them")
    }

    func testMixedNamesAndNumbersWithoutMapIsAnError() {
        assertRowError("m.jsonl", "{\"text\": \"a\", \"label\": \"pos\"}\n{\"text\": \"b\", \"label\": 1}",
                       options: .fields(label: "label"), line: 2,
                       reason: "label 1 is a number but earlier labels are class names (line 1); pass a label map to mix them")
    }

    func testCodable() throws {
        let map = LabelMap(names: ["b", "a"])
        let json = try JSONEncoder().encode(map)
        XCTAssertEqual(String(decoding: json, as: UTF8.self), "{\"names\":[\"b\",\"a\"]}")
        XCTAssertEqual(try JSONDecoder().decode(LabelMap.self, from: json), map)
        let fields = DatasetFields(text: "s", label: "y")
        XCTAssertEqual(try JSONDecoder().decode(DatasetFields.self, from: JSONEncoder().encode(fields)), fields)
        XCTAssertEqual(try JSONDecoder().decode(DatasetFields.self, from: Data("{\"label\": \"y\"}".utf8)),
                       DatasetFields(label: "y"), "text defaults when left out")
    }
}
