import XCTest

/// A small deterministic generator (SplitMix64) so tests do not depend on the system RNG.
struct SeededRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-scale, scale).
    mutating func floats(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in (Float(next() >> 40) / Float(1 << 24) * 2 - 1) * scale }
    }
}

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
