import Foundation
import TestSupport
import XCTest

/// `distillery train` with several students, re-runs, interruptions and kills, as a user meets them.
final class ManyStudentsCommandTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try CLI.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private var teacher: String { CLI.fixtures.appendingPathComponent("tiny-cls").path }

    private func cache(rows: Int = 24) throws -> URL {
        let data = try writeLabelledSentences(in: folder, rows: rows, name: "train.jsonl")
        let out = folder.appendingPathComponent("train.h5")
        let result = try CLI.run(["cache", "--teacher", teacher, "--data", data.path, "--label-field", "label", "--out", out.path,
                                  "--max-length", "24", "--hidden", "0,1,2", "--attention", "2", "--logits", "full", "--threads", "1"])
        XCTAssertEqual(result.status, 0, result.stderr)
        return out
    }

    /// A list of students trains in one pass into OUT/NAME; the same command again skips them;
    /// a student the cache cannot serve is named, the others still train, the exit is non-zero.
    func testStudentListTrainsTogetherAndIsNotRepeated() throws {
        let train = try cache()
        let list = folder.appendingPathComponent("students.yaml")
        try """
        train:
          student: {layers: 1}
          max_steps: 4
          batch_size: 8
        students:
          - name: kd-lower
            objectives: {kd: 1}
            student: {init: [1]}
          - name: attention-upper
            objectives: {attention_kl: 1, ce: 1}
            student: {init: [2]}
        """.write(to: list, atomically: true, encoding: .utf8)
        let out = folder.appendingPathComponent("runs")
        let arguments = ["train", "--students", list.path, "--cache", train.path, "--teacher", teacher, "--out", out.path, "--threads", "2"]
        let first = try CLI.run(arguments)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("pass of 2 students: 4 batches read once"), first.stdout)
        for name in ["kd-lower", "attention-upper"] {
            for file in ["done.json", "final/model.safetensors", "metrics.jsonl"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("\(name)/\(file)").path), "\(name)/\(file)")
            }
        }
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("summary.json"))) as! [String: Any]
        XCTAssertEqual((summary["students"] as! [[String: Any]]).map { $0["status"] as! String }, ["trained", "trained"])

        let again = try CLI.run(arguments)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("kd-lower: already trained"), again.stdout)
        XCTAssertTrue(again.stdout.contains("attention-upper: already trained"), again.stdout)

        try """
        train: {student: {layers: 1}, max_steps: 2, batch_size: 8}
        students:
          - {name: fine, objectives: {kd: 1}}
          - {name: too-deep, objectives: {hidden_mse: 1}, hidden_mapping: "0:0,1:5"}
        """.write(to: list, atomically: true, encoding: .utf8)
        let mixed = try CLI.run(["train", "--students", list.path, "--cache", train.path, "--teacher", teacher,
                                 "--out", folder.appendingPathComponent("mixed").path, "--threads", "1"])
        XCTAssertEqual(mixed.status, 1)
        XCTAssertTrue(mixed.stderr.contains("error: too-deep:"), mixed.stderr)
        XCTAssertTrue(mixed.stderr.contains("1 of 2 students failed"), mixed.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("mixed/fine/final/model.safetensors").path))
    }

    /// Ctrl-C (SIGINT) checkpoints and exits 130; kill -9 leaves the last periodic checkpoint.
    /// Either way `--resume` finishes with exactly the weights of an uninterrupted run.
    func testInterruptedAndKilledRunsResumeToTheSameWeights() throws {
        let train = try cache(rows: 40)
        func arguments(_ out: URL) -> [String] {
            ["train", "--cache", train.path, "--teacher", teacher, "--out", out.path, "--layers", "1", "--objective", "kd=1",
             "--objective", "hidden_mse=1", "--hidden-mapping", "0:0,1:2", "--max-steps", "1500", "--batch-size", "4",
             "--checkpoint-every", "7", "--log-every", "1", "--threads", "1"]
        }
        let reference = folder.appendingPathComponent("reference")
        let whole = try CLI.run(arguments(reference))
        XCTAssertEqual(whole.status, 0, whole.stderr)
        let expected = try Data(contentsOf: reference.appendingPathComponent("final/model.safetensors"))

        for (signal, status) in [("INT", 130), ("KILL", 137)] {
            let out = folder.appendingPathComponent("run-\(signal)")
            let command = ([builtProduct("distillery").path] + arguments(out)).map { "'\($0)'" }.joined(separator: " ")
            // Start, wait for 40 logged updates (five periodic checkpoints), send the signal.
            let script = """
            \(command) >/dev/null 2>\(out.path).stderr & pid=$!
            m='\(out.path)/metrics.jsonl'
            while [ ! -f "$m" ] || [ "$(wc -l < "$m")" -lt 40 ]; do sleep 0.01; done
            kill -\(signal) $pid; wait $pid; echo "exit=$?"
            """
            let stopped = try CLI.shell(script)
            XCTAssertTrue(stopped.stdout.contains("exit=\(status)"), "\(signal): \(stopped.output)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("done.json").path))
            if signal == "INT" {
                let stderr = try String(contentsOf: URL(fileURLWithPath: out.path + ".stderr"), encoding: .utf8)
                XCTAssertTrue(stderr.contains("continue with --resume"), stderr)
            }
            let plain = try CLI.run(arguments(out))
            XCTAssertNotEqual(plain.status, 0, "an unfinished run is not silently restarted")
            XCTAssertTrue(plain.stderr.contains("--resume"), plain.stderr)
            let resumed = try CLI.run(arguments(out) + ["--resume"])
            XCTAssertEqual(resumed.status, 0, resumed.stderr)
            XCTAssertTrue(resumed.stdout.contains("resumed at update"), resumed.stdout)
            XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent("final/model.safetensors")), expected, "\(signal): resumed weights differ")
            let lines = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            XCTAssertEqual(lines.count, 1500, "\(signal): one metrics line per update, none repeated")
        }
    }
}
