import TestSupport
import XCTest


/// Fails with the first mismatches and the largest error, not just "not equal".
func assertClose(_ actual: [Float], _ expected: [Double], tolerance: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "length", file: file, line: line)
    var worst = 0.0, bad: [String] = []
    for i in 0..<min(actual.count, expected.count) {
        let err = abs(Double(actual[i]) - expected[i])
        if !(err <= tolerance) && bad.count < 5 { bad.append("[\(i)] \(actual[i]) vs \(expected[i])") }
        if !(err <= worst) { worst = err.isNaN ? .infinity : err }
    }
    XCTAssertTrue(bad.isEmpty, "max error \(worst) > \(tolerance); first mismatches: \(bad.joined(separator: ", "))", file: file, line: line)
}
