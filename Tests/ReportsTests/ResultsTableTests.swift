import Foundation
import XCTest
@testable import Reports

final class StatisticsTests: XCTestCase {
    func testMeanAndSampleStandardDeviation() throws {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, Σ(x − 5)² = 32, sample variance 32 / 7.
        let m = try XCTUnwrap(MeanStd([2, 4, 4, 4, 5, 5, 7, 9]))
        XCTAssertEqual(m.mean, 5, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(m.std), (32.0 / 7).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(m.n, 8)
        // 0.80, 0.82, 0.84: mean 0.82, sample std 0.02.
        let three = try XCTUnwrap(MeanStd([0.80, 0.82, 0.84]))
        XCTAssertEqual(three.mean, 0.82, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(three.std), 0.02, accuracy: 1e-12)
        let one = try XCTUnwrap(MeanStd([0.7]))
        XCTAssertEqual(one.mean, 0.7)
        XCTAssertNil(one.std)
        XCTAssertNil(MeanStd([]))
    }
}

final class ResultsTableTests: XCTestCase {
    func testGroupsInInputOrderWithTheirSeeds() throws {
        let table = ResultsTable(sampleStudy())
        XCTAssertEqual(table.rows.map(\.student), ["MiniLM-L6", "kd-lower", "attention-lower", "random"])
        XCTAssertEqual(table.rows.map(\.isTeacher), [true, false, false, false])
        XCTAssertEqual(table.rows[1].members.map(\.seed), [0, 1, 2])
        XCTAssertEqual(table.rows[1].members.map(\.name), ["kd-lower-s0", "kd-lower-s1", "kd-lower-s2"])
        XCTAssertEqual(table.devMetrics, ["accuracy", "macro_f1"])
        XCTAssertEqual(table.testMetrics, ["accuracy"])

        let kd = table.rows[1]
        XCTAssertEqual(try XCTUnwrap(kd.dev["accuracy"]).mean, 0.82, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(kd.dev["accuracy"]?.std), 0.02, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(kd.test["accuracy"]).mean, 0.79, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(kd.test["accuracy"]?.std), 0.01, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(kd.trainingSeconds).mean, 101, accuracy: 1e-12)

        // The failed seed is counted but left out of the means: one value, no std.
        let attention = table.rows[2]
        XCTAssertEqual(attention.members.count, 2)
        XCTAssertEqual(attention.failedCount, 1)
        XCTAssertEqual(attention.dev["accuracy"], MeanStd(mean: 0.84, std: nil, n: 1))
        XCTAssertNil(table.rows[3].test["accuracy"])
        XCTAssertEqual(table.mainMetric, "accuracy")
    }

    func testMarkdownIsAnAlignedPipeTable() {
        let table = ResultsTable(sampleStudy())
        let lines = table.markdown().split(separator: "\n").filter { $0.hasPrefix("|") }
        XCTAssertEqual(lines.count, 2 + 4, "heading, rule, teacher and three groups")
        let widths = Set(lines.map(\.count))
        XCTAssertEqual(widths.count, 1, "every line as wide as the others:\n" + lines.joined(separator: "\n"))
        let columns = table.headings.count
        for line in lines { XCTAssertEqual(line.filter { $0 == "|" }.count, columns + 1, String(line)) }
        XCTAssertEqual(columns, 7 + 2 + 1 + 1)
        XCTAssertTrue(lines[1].hasPrefix("|:--"), "text columns left-aligned")
        XCTAssertTrue(lines[1].hasSuffix(":|"), "number columns right-aligned")
        XCTAssertTrue(lines[2].contains("MiniLM-L6 (teacher)"))
        XCTAssertTrue(lines[3].contains("0.8200 ± 0.0200"), String(lines[3]))
        XCTAssertTrue(lines[4].contains("0.8400 ± —"), "a single seed has no std: " + lines[4])
        XCTAssertTrue(lines[4].contains("2 (1 failed)"), String(lines[4]))
        XCTAssertTrue(lines[5].hasSuffix("1 min 40 s |"), String(lines[5]))
        XCTAssertTrue(lines[5].contains("| — |") || lines[5].contains("— |"), "missing test metric shown as —")
    }

    func testMarkdownEscapesPipes() {
        var study = sampleStudy()
        study.students[0].objectives = "a|b"
        XCTAssertTrue(ResultsTable(study).markdown().contains("a\\|b"))
    }

    func testCSVQuotesCommasQuotesAndLineBreaks() throws {
        XCTAssertEqual(ResultsTable.csvField("plain"), "plain")
        XCTAssertEqual(ResultsTable.csvField("ce=0.5, kd=0.5"), "\"ce=0.5, kd=0.5\"")
        XCTAssertEqual(ResultsTable.csvField("say \"hi\""), "\"say \"\"hi\"\"\"")
        XCTAssertEqual(ResultsTable.csvField("two\nlines"), "\"two\nlines\"")

        var study = sampleStudy()
        study.students = study.students.map { var s = $0; if s.group == "random" { s.group = "random \"baseline\", 3L" }; return s }
        let csv = ResultsTable(study).csv()
        XCTAssertTrue(csv.hasSuffix("\r\n"))
        let records = csv.components(separatedBy: "\r\n").dropLast()
        XCTAssertEqual(records.count, 5)
        XCTAssertEqual(records[0], "student,is_teacher,objectives,initialization,mapping,size,parameters,seeds,failed,"
                       + "dev_accuracy_mean,dev_accuracy_std,dev_macro_f1_mean,dev_macro_f1_std,test_accuracy_mean,test_accuracy_std,training_seconds_mean")
        XCTAssertTrue(records[1].hasPrefix("MiniLM-L6,true,—,—,—,6×384,22713216,,,0.9,,0.89,,0.88,,600"), records[1])
        XCTAssertTrue(records[2].hasPrefix("kd-lower,false,\"ce=0.5, kd=0.5\",lower,hidden uniform,3×384,17000000,3,0,"), records[2])
        XCTAssertTrue(records[4].hasPrefix("\"random \"\"baseline\"\", 3L\",false,"), records[4])
        // A quoted-field aware split gives every record the header's field count.
        for record in records { XCTAssertEqual(try csvFields(record).count, 16, record) }
        XCTAssertEqual(try csvFields(records[4])[0], "random \"baseline\", 3L")
    }

    func testJSONRoundTripKeepsEverySeed() throws {
        let table = ResultsTable(sampleStudy())
        let data = try table.json()
        XCTAssertEqual(try ResultsTable.decode(json: data), table)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(object["dev_metrics"] as? [String], ["accuracy", "macro_f1"])
        let rows = try XCTUnwrap(object["rows"] as? [[String: Any]])
        let members = try XCTUnwrap(rows[1]["members"] as? [[String: Any]])
        XCTAssertEqual(members.compactMap { ($0["dev"] as? [String: Double])?["accuracy"] }, [0.80, 0.82, 0.84])
        XCTAssertEqual((rows[1]["dev"] as? [String: [String: Any]])?["accuracy"]?["n"] as? Int, 3)

        // The input is Codable too: a runner can save it and report again later.
        let study = sampleStudy()
        XCTAssertEqual(try JSONDecoder().decode(StudyResults.self, from: JSONEncoder().encode(study)), study)
    }

    /// RFC 4180 fields of one record.
    func csvFields(_ record: String) throws -> [String] {
        var fields: [String] = [], field = "", quoted = false, chars = Array(record), i = 0
        while i < chars.count {
            let c = chars[i]
            if quoted {
                if c == "\"" { if i + 1 < chars.count && chars[i + 1] == "\"" { field.append("\""); i += 1 } else { quoted = false } } else { field.append(c) }
            } else if c == "\"" { quoted = true } else if c == "," { fields.append(field); field = "" } else { field.append(c) }
            i += 1
        }
        XCTAssertFalse(quoted, "unterminated quote in \(record)")
        return fields + [field]
    }
}
