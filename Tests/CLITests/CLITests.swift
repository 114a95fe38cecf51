import Foundation
import TestSupport
import XCTest
import SafeTensors

/// End-to-end: run the built `distillery` executable and check output, files and exit codes.
final class CLITests: XCTestCase {
    func testVersionAndHelp() throws {
        let version = try CLI.run(["--version"])
        XCTAssertEqual(version.status, 0)
        XCTAssertEqual(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "0.1.0")
        let help = try CLI.run(["--help"])
        XCTAssertEqual(help.status, 0)
        for command in ["cache", "train", "finetune", "ted-filters", "inspect", "verify", "tokenize", "forward", "bench"] { XCTAssertTrue(help.stdout.contains(command), "help lists \(command)") }
        let bench = try CLI.run(["bench", "--help"])
        for command in ["teacher", "cache", "train", "many"] { XCTAssertTrue(bench.stdout.contains(command), "bench help lists \(command)") }
    }

    /// The kernels are built for AVX2 and FMA: a CPU without them is named before any work (its
    /// flags simulated), not met with an illegal instruction halfway through a run.
    func testACPUWithoutAVX2IsRefusedByName() throws {
        let old = try CLI.run(["--version"], environment: ["DISTILLERY_FAULT_CPU_FLAGS": "fpu sse sse2 ssse3 sse4_1 sse4_2 popcnt avx"])
        XCTAssertEqual(old.status, 1)
        XCTAssertTrue(old.stderr.contains("this CPU lacks avx2, fma, bmi1, bmi2, f16c, movbe, abm"), old.stderr)
        XCTAssertTrue(old.stdout.isEmpty)
    }

    /// The CLI runs OpenBLAS's AVX2 or AVX-512 kernels on every CPU it accepts, also one that
    /// OpenBLAS does not recognise (it would fall back to SSE3 kernels: `BLASCore`).
    func testTheCLIRunsOpenBLASsWideKernels() throws {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil else {
            throw XCTSkip("OPENBLAS_CORETYPE is set in this environment; the CLI keeps it")
        }
        let folder = try CLI.tinyModelFolder()
        let result = try CLI.run(["bench", "teacher", "--model", folder.path, "--batch", "2", "--seq", "8", "--runs", "1", "--warmup", "0"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let core = try XCTUnwrap(result.stdout.firstMatch(of: #/OpenBLAS (\w+):/#)?.1, result.stdout)
        XCTAssertFalse(["prescott", "core2", "nehalem", "sandybridge", "unknown"].contains(core.lowercased()), result.stdout)
    }

    func testTokenizeWritesOneJSONObjectPerLine() throws {
        let folder = try CLI.tinyModelFolder()
        let result = try CLI.run(["tokenize", "--model", folder.path], stdin: "The cat sat.\nthe dog\tthe cat\n")
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        XCTAssertEqual(first["tokens"] as? [String], ["[CLS]", "the", "cat", "sat", ".", "[SEP]"])
        XCTAssertEqual(first["input_ids"] as? [Int], [2, 5, 6, 7, 8, 3])
        let second = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as! [String: Any]
        XCTAssertEqual(second["token_type_ids"] as? [Int], [0, 0, 0, 0, 1, 1, 1])
    }

    func testForwardSavesCapturedTensors() throws {
        let folder = try CLI.tinyModelFolder()
        let work = try CLI.temporaryDirectory()
        let input = work.appendingPathComponent("in.txt"), out = work.appendingPathComponent("out.safetensors")
        try "the cat sat .\nthe dog\tthe cat sat\n".write(to: input, atomically: true, encoding: .utf8)
        let result = try CLI.run(["forward", "--model", folder.path, "--input", input.path, "--out", out.path,
                                  "--capture", "hidden", "attentions", "logits", "--threads", "1"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let file = try SafeTensorsFile(url: out)
        XCTAssertEqual(file.tensors["hidden.0"]?.shape, [2, 8, 32])
        XCTAssertEqual(file.tensors["hidden.2"]?.shape, [2, 8, 32])
        // Layers numbered as in caches: attention.<l> comes from the layer whose output is hidden.<l>.
        XCTAssertEqual(file.tensors["attention.1"]?.shape, [2, 4, 8, 8])
        XCTAssertEqual(file.tensors["attention.2"]?.shape, [2, 4, 8, 8])
        XCTAssertNil(file.tensors["attention.0"])
        XCTAssertEqual(file.tensors["logits"]?.shape, [2, 3])
        XCTAssertEqual(try file.int64s("attention_mask"), [1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1])
        XCTAssertTrue(try file.floats("hidden.2").allSatisfy(\.isFinite))
        // Attention rows are distributions; the padded keys of example 0 get nothing.
        let attention = try file.floats("attention.1")
        XCTAssertEqual(attention[0..<8].reduce(0, +), 1, accuracy: 1e-5)
        XCTAssertEqual(attention[6], 0)
        XCTAssertEqual(attention[7], 0)
    }

    func testMissingModelFailsWithThePath() throws {
        let result = try CLI.run(["tokenize", "--model", "/nonexistent/model"], stdin: "x\n")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("/nonexistent/model"), result.stderr)
    }

    func testInvalidOptionsAreRejected() throws {
        let result = try CLI.run(["tokenize", "--model", ".", "--max-length", "1"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("--max-length"), result.stderr)
    }

    /// `cache` (its default subcommand `build`) and `cache merge` each own their options, so a
    /// missing one gets ArgumentParser's own message and usage, and `cache build` is the same as `cache`.
    func testCacheAndMergeRequireTheirOwnOptions() throws {
        for (arguments, missing) in [(["cache", "--data", "d.jsonl", "--out", "c.h5"], "--teacher <teacher>"),
                                     (["cache", "build", "--teacher", "t", "--out", "c.h5"], "--data <data> ..."),
                                     (["cache", "--teacher", "t", "--data", "d.jsonl"], "--out <out>"),
                                     (["cache", "merge", "a.h5", "b.h5"], "--out <out>")] {
            let result = try CLI.run(arguments)
            XCTAssertEqual(result.status, 64, "\(arguments): \(result.output)")
            XCTAssertTrue(result.stderr.contains("Missing expected argument '\(missing)'") && result.stderr.contains("Usage: distillery cache"),
                          "\(arguments): \(result.stderr)")
        }
        let merge = try CLI.run(["cache", "merge", "--help"])
        XCTAssertTrue(merge.stdout.contains("--out <out>") && merge.stdout.contains("--overwrite") && !merge.stdout.contains("--teacher"), merge.stdout)
    }
}

enum CLI {
    typealias Result = ProgramResult

    /// Runs the `distillery` built next to this test bundle.
    static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> ProgramResult {
        try runProgram(builtProduct("distillery"), arguments, stdin: stdin, environment: environment)
    }

    static func shell(_ command: String) throws -> ProgramResult { try TestSupport.shell(command) }

    static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures/bert")

    static func temporaryDirectory() throws -> URL { try makeTemporaryDirectory("distillery-cli") }

    /// The tiny classifier fixture: a complete Hugging Face folder with a 99-token vocabulary.
    static func tinyModelFolder() throws -> URL { fixtures.appendingPathComponent("tiny-cls") }
}
