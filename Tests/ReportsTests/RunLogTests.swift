import Foundation
import XCTest
@testable import Reports
import TestSupport

final class RunLogTests: XCTestCase {
    func write(_ text: String, _ name: String, in folder: URL) throws {
        try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    func testReadsAFinishedRunFolder() throws {
        let folder = try makeTemporaryDirectory("reports-run")
        defer { try? FileManager.default.removeItem(at: folder) }
        try write(#"{"name": "kd-s3", "parameters": 17000123, "spec": {"seed": 3, "epochs": 1}}"#, "config.json", in: folder)
        try write("""
        {"epoch":1,"grad_norm":1.5,"learning_rate":0.0001,"loss":2.5,"losses":{"ce":1.2,"kd":1.3},"step":10,"tokens_per_second":900}
        {"epoch":1,"grad_norm":1.1,"learning_rate":0.0001,"loss":1.5,"losses":{"ce":0.7,"kd":0.8},"step":20,"tokens_per_second":950}

        """, "metrics.jsonl", in: folder)
        try write("""
        {"accuracy":0.80,"examples":100,"loss":1.0,"losses":{"kd":1.0},"macro_f1":0.79,"matthews":0.6,"step":10,"teacher_cosine":0.5}
        {"accuracy":0.85,"examples":100,"loss":0.9,"losses":{"kd":0.9},"macro_f1":0.84,"matthews":0.7,"step":20,"teacher_cosine":0.6}
        {"accuracy":0.85,"examples":100,"loss":0.8,"losses":{"kd":0.8},"macro_f1":0.83,"matthews":0.69,"step":30,"teacher_cosine":0.7}
        """, "eval.jsonl", in: folder)
        try write(#"{"run_hash": "abc", "name": "kd-s3", "steps": 30, "seconds": 12.5, "best_score": 0.85}"#, "done.json", in: folder)

        let log = try RunLog.read(folder)
        XCTAssertEqual(log.curve, [CurvePoint(step: 10, value: 2.5), CurvePoint(step: 20, value: 1.5)])
        XCTAssertEqual(log.evaluations.map(\.step), [10, 20, 30])
        XCTAssertEqual(log.evaluations.map(\.value), [0.80, 0.85, 0.85])
        XCTAssertEqual(log.evaluationMetric, "accuracy")
        XCTAssertEqual(log.bestDev, ["accuracy": 0.85, "macro_f1": 0.84, "matthews": 0.7, "teacher_cosine": 0.6], "the first best evaluation, task metrics only")
        XCTAssertTrue(log.finished)
        XCTAssertEqual(log.status, "trained")
        XCTAssertEqual(log.seconds, 12.5)
        XCTAssertEqual(log.parameters, 17000123)
        XCTAssertEqual(log.seed, 3)

        let student = try StudentResult(name: "kd-s3", group: "kd", seed: 0, objectives: "kd=1", initialization: "lower",
                                        mapping: "—", size: "3×384", runFolder: folder)
        XCTAssertEqual(student.seed, 3)
        XCTAssertEqual(student.parameters, 17000123)
        XCTAssertEqual(student.status, "trained")
        XCTAssertEqual(student.trainingSeconds, 12.5)
        XCTAssertEqual(student.dev["accuracy"], 0.85)
        XCTAssertEqual(student.curve.count, 2)
    }

    func testRegressionRunsAreJudgedByTheLowestMSE() throws {
        let folder = try makeTemporaryDirectory("reports-run")
        defer { try? FileManager.default.removeItem(at: folder) }
        try write("""
        {"loss":1.0,"losses":{},"regression_mse":0.4,"step":5}
        {"loss":0.9,"losses":{},"regression_mse":0.2,"step":10}
        {"loss":0.8,"losses":{},"regression_mse":0.3,"step":15}
        """, "eval.jsonl", in: folder)
        let log = try RunLog.read(folder)
        XCTAssertEqual(log.evaluationMetric, "regression_mse")
        XCTAssertEqual(log.bestDev, ["regression_mse": 0.2])
    }

    func testMissingFilesReadAsAFailedRun() throws {
        let folder = try makeTemporaryDirectory("reports-run")
        defer { try? FileManager.default.removeItem(at: folder) }
        let missing = try RunLog.read(folder.appendingPathComponent("never-started"))
        XCTAssertEqual(missing, RunLog())
        XCTAssertEqual(missing.status, "failed: no training log")

        try write(#"{"loss":2.0,"step":10}"# + "\n", "metrics.jsonl", in: folder)
        let stopped = try RunLog.read(folder)
        XCTAssertFalse(stopped.finished)
        XCTAssertEqual(stopped.status, "failed: stopped after update 10")
        XCTAssertTrue(stopped.evaluations.isEmpty)
        XCTAssertNil(stopped.evaluationMetric)
    }

    func testMalformedLinesNameFileAndLine() throws {
        let folder = try makeTemporaryDirectory("reports-run")
        defer { try? FileManager.default.removeItem(at: folder) }
        try write("{\"loss\":2.0,\"step\":10}\n{\"loss\":2.0,\"step\":20\n", "metrics.jsonl", in: folder)
        XCTAssertThrowsError(try RunLog.read(folder)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix(folder.appendingPathComponent("metrics.jsonl").path + ":2: not a JSON object"), text)
        }
        try write("{\"loss\":2.0,\"step\":10}\n", "metrics.jsonl", in: folder)
        try write("{\"accuracy\":0.5,\"step\":10}\n{\"accuracy\":0.5}\n", "eval.jsonl", in: folder)
        XCTAssertThrowsError(try RunLog.read(folder)) { error in
            XCTAssertEqual(error as? ReportsError, .malformed(file: folder.appendingPathComponent("eval.jsonl").path, line: 2, reason: "no whole-number 'step'"))
        }
        try write("{\"accuracy\":0.5,\"step\":10}\n", "eval.jsonl", in: folder)
        try write("[1, 2]", "done.json", in: folder)
        XCTAssertThrowsError(try RunLog.read(folder)) { error in
            XCTAssertEqual("\(error)", folder.appendingPathComponent("done.json").path + ": not a JSON object")
        }
    }
}
