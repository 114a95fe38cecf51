import Benchmarks
import Foundation
import TestSupport
import XCTest

/// The benchmarks take any BERT folder (no model or depth is built in): each runs end to end on
/// the tiny 2-layer fixtures and reports what it measured. Speed itself is `make bench`'s, not a test's.
final class BenchmarksTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try makeTemporaryDirectory("distillery-bench") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    var tiny: URL { packageRoot.appendingPathComponent("Tests/Fixtures/bert/tiny-base") }

    func testTeacherThroughputOnATinyModel() throws {
        let result = try TeacherThroughput.measure(model: tiny, batch: 2, seq: 8, runs: 3, warmup: 1)
        XCTAssertEqual(result.rates.count, 3)
        XCTAssertTrue(result.rates.allSatisfy { $0 > 0 && $0.isFinite })
        XCTAssertTrue(result.line.hasPrefix("distillery teacher: batch 2 x seq 8"), result.line)
    }

    func testStageOneTrainAndManyRunOnATwoLayerTeacher() throws {
        let data = try writeLabelledSentences(in: folder, rows: 40)
        var lines: [String] = []
        var cache = StageOneBenchmark.Settings(teacher: tiny, data: data, workDirectory: folder.appendingPathComponent("cache"))
        cache.maxLength = 16; cache.batchSize = 8; cache.runs = 1
        try StageOneBenchmark.run(cache) { lines.append($0) }
        XCTAssertTrue(lines[0].contains("stage one, tiny-base") && lines[0].contains("hidden [0, 1, 2] + attention [2]"), lines[0])
        XCTAssertEqual(lines.filter { $0.hasPrefix("codec ") }.count, 4, "\(lines)")
        XCTAssertTrue(lines.last!.hasPrefix("sequential read"), lines.last!)

        var train = TrainStepBenchmark.Settings(teacher: tiny, data: data, workDirectory: folder.appendingPathComponent("train"))
        train.batch = 4; train.seq = 16; train.layers = 1; train.steps = 2; train.runs = 2; train.warmup = 1
        let step = try TrainStepBenchmark.measure(train)
        XCTAssertEqual(step.rates.count, 2)
        XCTAssertTrue(step.rates.allSatisfy { $0 > 0 }, step.line)

        var many = ManyStudentsBenchmark.Settings(teacher: tiny, data: data, workDirectory: folder.appendingPathComponent("many"))
        many.maxLength = 16; many.batch = 8; many.layers = 1
        lines = []
        try ManyStudentsBenchmark.run(many) { lines.append($0) }
        XCTAssertTrue(lines[0].contains("hidden [0, 2] + attention 2 + Q/K/V 2"), lines[0])
        for prefix in ["(a) together", "(b) one after another", "(c) one after another, teacher online", "(a)/(c)", "(b)/(c)"] {
            XCTAssertTrue(lines.contains { $0.hasPrefix(prefix) }, "\(prefix) missing from \(lines)")
        }
    }
}
