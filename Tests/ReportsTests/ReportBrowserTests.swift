import Foundation
import XCTest
@testable import Reports
import TestSupport

/// The report as a reader sees it: scripts/check_report.py opens it in headless Chromium at
/// 1,300 px and checks console errors, chart sizes, the table's rows, horizontal overflow and the
/// range of accuracy-like axes, and saves a screenshot.
final class ReportBrowserTests: XCTestCase {
    func testReportsPassTheBrowserChecks() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") else {
            throw XCTSkip("chromium not installed: make setup installs it")
        }
        for (name, study) in [("demo", demoStudy()), ("sample", sampleStudy())] {
            let folder = try makeTemporaryDirectory("report-browser-\(name)")
            defer { try? FileManager.default.removeItem(at: folder) }
            try StudyReport.write(study, to: folder)
            let report = folder.appendingPathComponent("report.html"), screenshot = folder.appendingPathComponent("report.png")
            let result = try runProgram("python3", [packageRoot.appendingPathComponent("scripts/check_report.py").path, report.path,
                                                    "--expect-rows", "\(study.groups.count + 1)"])
            XCTAssertEqual(result.status, 0, "\(name):\n" + result.output)
            let png = try Data(contentsOf: screenshot)
            XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "\(name): a PNG")
            XCTAssertGreaterThan(png.count, 5_000, "\(name): a screenshot of the whole page")
        }
    }
}
