import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import Reports
import TestSupport

final class HTMLReportTests: XCTestCase {
    /// Parses the page as XML; fails with the parser's line and message.
    func assertWellFormed(_ html: String, file: StaticString = #filePath, line: UInt = #line) {
        let parser = XMLParser(data: Data(html.utf8))
        let ok = parser.parse()
        XCTAssertTrue(ok, "not well-formed at line \(parser.lineNumber): \(parser.parserError.map { "\($0)" } ?? "?")", file: file, line: line)
    }

    func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    func testReportIsWellFormedSelfContainedWithOneSVGPerChart() {
        let html = HTMLReport.render(sampleStudy())
        assertWellFormed(html)
        // Charts: scores, one per group with a log (kd-lower, attention-lower, random), cache sizes.
        XCTAssertEqual(count("<svg", in: html), 1 + 3 + 1)
        XCTAssertEqual(count("</svg>", in: html), count("<svg", in: html))
        for section in ["summary", "results", "scores", "curves", "cache"] { XCTAssertTrue(html.contains("<section id=\"\(section)\">"), section) }
        XCTAssertFalse(html.lowercased().contains("<script"))
        XCTAssertFalse(html.contains("http://") && html.replacingOccurrences(of: "http://www.w3.org/", with: "").contains("http://"),
                       "no external resources besides XML namespaces")
        XCTAssertFalse(html.contains("https://"))
        XCTAssertFalse(html.contains("<link"))
        // Dash patterns, not colour alone, tell seeds apart.
        XCTAssertTrue(html.contains("stroke-dasharray=\"7 3\""))
        XCTAssertTrue(html.contains("stroke-dasharray=\"8 4\""), "teacher reference line")
        // Stages and their times.
        XCTAssertTrue(html.contains("cache train"))
        XCTAssertTrue(html.contains("1 h 02 min"))
        XCTAssertTrue(html.contains("attention-lower-s1: no training log (failed: out of memory)"))
    }

    /// The demo's table (14 columns) fits a 1,300 px window: ReportBrowserTests measures it in
    /// Chromium; this checks the layout it relies on.
    func testWideResultsTableStacksEachSpreadUnderItsMean() throws {
        let html = HTMLReport.render(demoStudy())
        assertWellFormed(html)
        let results = try XCTUnwrap(html.components(separatedBy: "<section id=\"results\">").last?.components(separatedBy: "<h3>")[0])
        XCTAssertEqual(count("<td class=\"num\">0.7200 <span class=\"spread\">± —</span></td>", in: results), 1, "kd-lower's dev accuracy")
        XCTAssertEqual(count("<span class=\"spread\">", in: results), 6 * 6, "six groups × dev and test × three metrics")
        XCTAssertTrue(results.contains("<td class=\"num\">0.7600</td>"), "the teacher has no spread")
        XCTAssertTrue(HTMLReport.style.contains(".spread { display: block;"), "the spread on a line of its own")
        XCTAssertTrue(HTMLReport.style.contains("max-width: 1240px;"), "the page as wide as a 1,300 px window allows")
        let sample = HTMLReport.render(sampleStudy())
        XCTAssertTrue(sample.contains("<td class=\"num\">0.8200 <span class=\"spread\">± 0.0200</span></td>"))
        XCTAssertTrue(ResultsTable(demoStudy()).markdown().contains(" 0.7200 ± — |"), "Markdown keeps one line")
    }

    func testNamesAreEscaped() {
        var study = sampleStudy()
        study.name = "x & y"
        study.students[0].name = "<script>alert(1)</script>"
        study.students[0].group = "evil\"<b>"
        study.cacheComponents[0].name = "hidden/<3>"
        let html = HTMLReport.render(study)
        assertWellFormed(html)
        XCTAssertFalse(html.contains("<script>"))
        XCTAssertTrue(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        XCTAssertFalse(html.contains("evil\"<b>"))
        XCTAssertTrue(html.contains("evil&quot;&lt;b&gt;"))
        XCTAssertTrue(html.contains("hidden/&lt;3&gt;"))
        XCTAssertTrue(html.contains("<h1>x &amp; y</h1>"))
    }

    func testFailedStudentWithoutCurves() {
        var study = sampleStudy()
        study.students = [StudentResult(name: "broken-s0", group: "broken", seed: 0, status: "failed: cache lacks hidden/6")]
        let html = HTMLReport.render(study)
        assertWellFormed(html)
        XCTAssertEqual(count("<svg", in: html), 1, "the cache chart only: no curves, no scores")
        XCTAssertTrue(html.contains("broken-s0: no training log (failed: cache lacks hidden/6)"))
        XCTAssertTrue(html.contains("No student has a dev score."))
        XCTAssertTrue(ResultsTable(study).markdown().contains("1 (1 failed)"))
    }

    func testEmptyStudy() throws {
        let study = StudyResults(name: "empty", teacher: TeacherResult(name: "t", path: "t", parameters: 0, size: "?"))
        let html = HTMLReport.render(study)
        assertWellFormed(html)
        XCTAssertEqual(count("<svg", in: html), 0)
        XCTAssertTrue(html.contains("No students."))
        XCTAssertTrue(html.contains("No cache components recorded."))
        let table = ResultsTable(study)
        XCTAssertEqual(table.rows.count, 1)
        XCTAssertEqual(table.markdown().split(separator: "\n").filter { $0.hasPrefix("|") }.count, 3)
        XCTAssertEqual(try ResultsTable.decode(json: table.json()), table)

        let folder = try makeTemporaryDirectory("reports")
        defer { try? FileManager.default.removeItem(at: folder) }
        try StudyReport.write(study, to: folder)
        for name in StudyReport.files { XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path), name) }
    }

    func testNonFiniteValuesAreLeftOut() {
        var study = sampleStudy()
        study.teacher.dev["accuracy"] = .nan
        study.students[0].dev["accuracy"] = .infinity
        study.students[0].curve.append(CurvePoint(step: 60, value: .nan))
        let html = HTMLReport.render(study)
        assertWellFormed(html)
        // Charts and the table leave them out; the list of students shows the value as it is.
        let charts = html.components(separatedBy: "<svg").dropFirst().map { $0.components(separatedBy: "</svg>")[0] }.joined()
        XCTAssertFalse(charts.contains("nan") || charts.contains("inf"))
        XCTAssertTrue(html.contains("<td class=\"num\">inf</td>"))
        XCTAssertFalse(html.contains("nan"))
        XCTAssertNoThrow(try ResultsTable(study).json())
    }

    func testRegressionStudyChartsTheMSE() {
        let study = StudyResults(
            name: "sts", teacher: TeacherResult(name: "t", path: "t", parameters: 1, size: "6×384", dev: ["regression_mse": 0.3]),
            students: [0, 1].map { StudentResult(name: "mse-s\($0)", group: "mse", seed: $0, dev: ["regression_mse": 0.5 + 0.1 * Double($0)],
                                                 curve: [CurvePoint(step: 1, value: 1)], evaluations: [CurvePoint(step: 1, value: 0.5)],
                                                 evaluationMetric: "regression_mse") })
        let table = ResultsTable(study)
        XCTAssertEqual(table.mainMetric, "regression_mse")
        let html = HTMLReport.render(study)
        assertWellFormed(html)
        XCTAssertEqual(count("<svg", in: html), 2, "scores and one group's curves")
        XCTAssertTrue(html.contains("regression_mse (lower is better)"))
        XCTAssertTrue(html.contains("dev regression_mse"))
    }

    func testNiceScales() {
        // 0.06 / 5 = 0.012: the nearest round step is 0.01.
        let s = Scale(covering: [0.813, 0.867], ticks: 5)
        XCTAssertEqual(s.step, 0.01, accuracy: 1e-12)
        XCTAssertEqual(s.lo, 0.81, accuracy: 1e-9)
        XCTAssertEqual(s.hi, 0.87, accuracy: 1e-9)
        XCTAssertEqual(s.ticks.count, 7)
        XCTAssertEqual(s.label(0.83), "0.83")
        let steps = Scale(covering: [0, 937], ticks: 4)
        XCTAssertEqual(steps.ticks, [0, 200, 400, 600, 800, 1000])
        XCTAssertEqual(steps.label(400), "400")
        let flat = Scale(covering: [2, 2])
        XCTAssertLessThan(flat.lo, 2)
        XCTAssertGreaterThan(flat.hi, 2)
        // Values on ticks add no step for rounding noise (0.56 / 0.02 = 28.000000000000004, 0.58 / 0.02 = 28.999999999999996).
        let onTicks = Scale(covering: [0.50, 0.56], ticks: 4)
        XCTAssertEqual(onTicks.step, 0.02, accuracy: 1e-12)
        XCTAssertEqual(onTicks.ticks.map(onTicks.label), ["0.50", "0.52", "0.54", "0.56"])
        let fromTick = Scale(covering: [0.58, 0.64], ticks: 4)
        XCTAssertEqual(fromTick.ticks.map(fromTick.label), ["0.58", "0.60", "0.62", "0.64"])
    }

    func testBoundedScalesStopAtTheMetricsRange() {
        // The demo's dev accuracy: one evaluation per student, padded ± 0.5 and rounded out to 0.2…1.4.
        XCTAssertEqual(Scale(covering: [0.72], ticks: 4).hi, 1.4, accuracy: 1e-9)
        let accuracy = Scale(covering: [0.72], ticks: 4, within: 0...1)
        XCTAssertEqual(accuracy.lo, 0.2, accuracy: 1e-9)
        XCTAssertEqual(accuracy.hi, 1.0)
        XCTAssertEqual(accuracy.ticks.map(accuracy.label), ["0.2", "0.4", "0.6", "0.8", "1.0"])
        let matthews = Scale(covering: [-0.97, 0.45], ticks: 4, within: -1...1)
        XCTAssertEqual(matthews.lo, -1)
        XCTAssertEqual(matthews.ticks.first ?? 0, -1, accuracy: 1e-9)
        // Values outside the range still show; ticks stay inside the axis.
        let outside = Scale(covering: [0.5, 1.03], ticks: 4, within: 0...1)
        XCTAssertEqual(outside.hi, 1.03)
        XCTAssertLessThanOrEqual(outside.ticks.last ?? 0, 1.03)
    }

    /// The y tick labels of each panel (`<g class="axes">`) of an SVG chart.
    func yTickLabels(_ svg: String) -> [[Double]] {
        svg.components(separatedBy: "<g class=\"axes\">").dropFirst().map { axes in
            axes.components(separatedBy: "</g>")[0].components(separatedBy: "text-anchor=\"end\">").dropFirst()
                .compactMap { Double($0.prefix { $0 != "<" }) }
        }
    }

    func testAccuracyAxesStayWithinZeroToOne() throws {
        let study = demoStudy()
        for (group, members) in study.groups {
            let chart = try XCTUnwrap(Charts.learningCurves(group: group, students: members))
            let dev = try XCTUnwrap(yTickLabels(chart).last, group)
            XCTAssertLessThanOrEqual(try XCTUnwrap(dev.max()), 1.0, "\(group): dev accuracy ticks \(dev)")
            XCTAssertGreaterThanOrEqual(try XCTUnwrap(dev.min()), 0.0, group)
        }
        let scores = try XCTUnwrap(Charts.scores(ResultsTable(study), metric: "accuracy"))
        XCTAssertLessThanOrEqual(try XCTUnwrap(yTickLabels(scores).first?.max()), 1.0)
    }
}
