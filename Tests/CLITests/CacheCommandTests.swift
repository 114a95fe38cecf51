import Foundation
import HDF5
import TestSupport
import XCTest
import SafeTensors
import TeacherCache

/// `distillery cache / inspect / verify` as a user runs them, including interruption and damage.
final class CacheCommandTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try CLI.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private func data(rows: Int) throws -> URL {
        let words = ["the", "cat", "sat", "on", "a", "mat", "dog", "movie", "was", "very", "good", "bad", "not", "great", "film"]
        let lines = (0..<rows).map { i -> String in
            let text = (0..<(1 + (i * 5) % 20)).map { words[($0 + i) % words.count] }.joined(separator: " ")
            return "\(text)\t\(["neg", "pos"][i % 2])"
        }
        let url = folder.appendingPathComponent("train.tsv")
        try ("text\tlabel\n" + lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    private func cacheArguments(_ data: URL, _ out: URL) -> [String] {
        ["cache", "--teacher", CLI.fixtures.appendingPathComponent("tiny-cls").path, "--data", data.path, "--label-field", "label",
         "--out", out.path, "--hidden", "all", "--attention", "2", "--relations", "1", "--logits", "full", "topk", "sampled",
         "--top-k", "2", "--max-length", "20", "--batch-size", "4", "--commit-every", "8", "--chunk-bytes", "4096", "--threads", "1"]
    }

    func testKilledRunResumesToTheSameContentAsAnUninterruptedRun() throws {
        let data = try data(rows: 60)
        let reference = folder.appendingPathComponent("reference.h5"), resumed = folder.appendingPathComponent("resumed.h5")
        let clean = try CLI.run(cacheArguments(data, reference))
        XCTAssertEqual(clean.status, 0, clean.stderr)

        // Dies like kill -9 right after writing a batch that follows its third commit.
        let killed = try CLI.run(cacheArguments(data, resumed), environment: ["DISTILLERY_FAULT_KILL_AFTER_COMMITS": "3"])
        XCTAssertEqual(killed.status, 137)
        XCTAssertFalse(FileManager.default.fileExists(atPath: resumed.path), "no complete-looking file after a crash")
        XCTAssertTrue(FileManager.default.fileExists(atPath: resumed.path + ".partial"))
        // Readers refuse the partial file; a second plain run refuses to overwrite it.
        XCTAssertThrowsError(try CacheReader(url: resumed)) { XCTAssertTrue("\($0)".contains("--resume"), "\($0)") }
        let again = try CLI.run(cacheArguments(data, resumed))
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("--resume"), again.stderr)

        let resume = try CLI.run(cacheArguments(data, resumed) + ["--resume"])
        XCTAssertEqual(resume.status, 0, resume.stderr)
        XCTAssertTrue(resume.stderr.contains("resuming"), resume.stderr)
        try assertSameContent(reference, resumed)
        XCTAssertEqual(try CLI.run(["verify", resumed.path]).status, 0)
    }

    func testResumeWithOtherOptionsIsRefused() throws {
        let data = try data(rows: 30)
        let out = folder.appendingPathComponent("c.h5")
        XCTAssertEqual(try CLI.run(cacheArguments(data, out), environment: ["DISTILLERY_FAULT_KILL_AFTER_COMMITS": "1"]).status, 137)
        let other = try CLI.run(cacheArguments(data, out) + ["--resume", "--hidden-codec", "bf16"])
        XCTAssertNotEqual(other.status, 0)
        XCTAssertTrue(other.stderr.contains("another cache spec"), other.stderr)
    }

    func testYAMLSpecWithFlagsOnTop() throws {
        let spec = folder.appendingPathComponent("spec.yaml")
        try "cache:\n  hidden_layers: [0, 1]\n  attention_layers: [2]\n  codecs: {hidden: bf16}\n".write(to: spec, atomically: true, encoding: .utf8)
        let out = folder.appendingPathComponent("c.h5")
        let result = try CLI.run(["cache", "--teacher", CLI.fixtures.appendingPathComponent("tiny-cls").path, "--data", try data(rows: 10).path,
                                  "--out", out.path, "--spec", spec.path, "--hidden", "2", "--threads", "1"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let inspect = try CLI.run(["inspect", out.path]).stdout
        XCTAssertTrue(inspect.contains("/hidden/layer_2") && !inspect.contains("/hidden/layer_0"), "--hidden overrides the YAML")
        XCTAssertTrue(inspect.contains("/attention/layer_2"), "the YAML's attention layers stay")
        XCTAssertTrue(inspect.contains("bfloat16"), "the YAML's codec stays")
        // Columns never run together (a 1005.63× ratio once touched its filters: "1005.63×shuffle").
        XCTAssertNil(inspect.range(of: #"[0-9]×[^ \n]"#, options: .regularExpression), inspect)
        XCTAssertTrue(inspect.contains("h5dump -d /hidden/layer_2 -s 0,0 -c 1,"), "a ready h5dump command: \(inspect)")
    }

    func testInspectAndVerifyReportDamage() throws {
        let data = try data(rows: 40)
        let out = folder.appendingPathComponent("c.h5")
        XCTAssertEqual(try CLI.run(cacheArguments(data, out)).status, 0)
        let inspect = try CLI.run(["inspect", out.path])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        for text in ["complete", "/hidden/layer_2", "fp16", "zstd", "fletcher32", "bytes/token", "labels: neg, pos", "tiny-cls"] {
            XCTAssertTrue(inspect.stdout.contains(text), "inspect shows \(text)")
        }
        XCTAssertEqual(try CLI.run(["verify", out.path]).status, 0)

        // Flip bytes inside the largest stored chunk of /relations/layer_1.
        let file = try H5File.open(out)
        let dataset = try file.root.dataset("relations/layer_1")
        let chunk = try dataset.chunkLocation(0)
        try file.close()
        let handle = try FileHandle(forUpdating: out)
        try handle.seek(toOffset: UInt64(chunk.fileOffset + chunk.storedBytes / 2))
        let byte = try handle.read(upToCount: 1)![0]
        try handle.seek(toOffset: UInt64(chunk.fileOffset + chunk.storedBytes / 2))
        handle.write(Data([byte ^ 0xFF]))
        try handle.close()
        let verify = try CLI.run(["verify", out.path])
        XCTAssertEqual(verify.status, 1)
        XCTAssertTrue(verify.stdout.contains("FAULT /relations/layer_1 rows 0..<"), verify.stdout)
    }

    /// Killed during `cache merge` (like kill -9, once the virtual datasets are written): no merged
    /// file that looks complete, the shards byte for byte as before, and merging again succeeds.
    func testKilledMergeLeavesTheShardsAndNoCompleteFile() throws {
        let data = try data(rows: 20)
        let shards = (1...2).map { folder.appendingPathComponent("part-\($0).h5") }
        for (i, shard) in shards.enumerated() {
            XCTAssertEqual(try CLI.run(cacheArguments(data, shard) + ["--shard", "\(i + 1)/2"]).status, 0)
        }
        let before = try shards.map { try Data(contentsOf: $0) }
        let merged = folder.appendingPathComponent("merged.h5")
        let arguments = ["cache", "merge"] + shards.map(\.path) + ["--out", merged.path]
        let killed = try CLI.run(arguments, environment: ["DISTILLERY_FAULT_KILL_DURING_MERGE": "1"])
        XCTAssertEqual(killed.status, 137)
        XCTAssertFalse(FileManager.default.fileExists(atPath: merged.path), "no complete-looking merged file after a crash")
        XCTAssertEqual(try shards.map { try Data(contentsOf: $0) }, before, "the shards are untouched")
        let again = try CLI.run(arguments)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try CLI.run(["verify", merged.path]).status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: merged.path + ".partial"))
    }

    /// Three `--shard I/3` runs merged with `cache merge` hold, dataset by dataset, what one run
    /// writes; inspect lists the shards, verify passes and later names a deleted shard.
    func testShardsMergedEqualOneRunAndAreInspectedAndVerified() throws {
        let data = try data(rows: 30)
        let reference = folder.appendingPathComponent("reference.h5"), merged = folder.appendingPathComponent("merged.h5")
        XCTAssertEqual(try CLI.run(cacheArguments(data, reference)).status, 0)
        let shards = (1...3).map { folder.appendingPathComponent("part-\($0).h5") }
        for (i, shard) in shards.enumerated() {
            let result = try CLI.run(cacheArguments(data, shard) + ["--shard", "\(i + 1)/3"])
            XCTAssertEqual(result.status, 0, result.stderr)
        }
        var result = try CLI.run(["cache", "merge", shards[1].path, shards[0].path, "--out", merged.path])
        XCTAssertNotEqual(result.status, 0, "shard 3 left out")
        XCTAssertTrue(result.stderr.contains("gap: sequences 20..<30"), result.stderr)
        result = try CLI.run(["cache", "merge"] + shards.map(\.path) + ["--out", merged.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("merged 3 shards"), result.stdout)
        try assertSameContent(reference, merged)

        let inspect = try CLI.run(["inspect", merged.path])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertTrue(inspect.stdout.contains("merged cache") && inspect.stdout.contains("shard 3/3: part-3.h5"), inspect.stdout)
        XCTAssertTrue(try CLI.run(["inspect", shards[0].path]).stdout.contains("shard 1/3: sequences 0..<"))
        XCTAssertEqual(try CLI.run(["verify", merged.path]).status, 0)
        try FileManager.default.removeItem(at: shards[1])
        let verify = try CLI.run(["verify", merged.path])
        XCTAssertEqual(verify.status, 1)
        XCTAssertTrue(verify.stdout.contains("part-2.h5") && verify.stdout.contains("missing"), verify.stdout)

        // A bad --shard is a usage error that says how shards are numbered.
        let bad = try CLI.run(cacheArguments(data, folder.appendingPathComponent("x.h5")) + ["--shard", "0/3"])
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderr.contains("numbered from 1"), bad.stderr)
    }

    func testBadInputIsNamed() throws {
        let out = folder.appendingPathComponent("c.h5")
        let bad = folder.appendingPathComponent("bad.tsv")
        try "text\tlabel\nthe cat\tpos\nthe dog\n".write(to: bad, atomically: true, encoding: .utf8)
        var result = try CLI.run(cacheArguments(bad, out))
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("bad.tsv:3"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path + ".partial"), "no file for data that never loaded")
        result = try CLI.run(cacheArguments(bad, out) + ["--skip-bad-rows"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("1 bad rows skipped"), result.stdout)
        // A teacher without the requested layer, and an existing output.
        result = try CLI.run(cacheArguments(try data(rows: 4), folder.appendingPathComponent("d.h5")) + ["--attention", "7"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("attention layer 7 is outside 1…2"), result.stderr)
        result = try CLI.run(cacheArguments(try data(rows: 4), out))
        XCTAssertTrue(result.stderr.contains("already exists"), result.stderr)
        // Not a cache at all.
        let text = folder.appendingPathComponent("x.h5")
        try "hello".write(to: text, atomically: true, encoding: .utf8)
        result = try CLI.run(["inspect", text.path])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains(text.path), result.stderr)
    }

    func testNonFiniteTeacherOutputNamesTheExample() throws {
        // A copy of the tiny classifier with one NaN in the second layer's output bias.
        let teacher = folder.appendingPathComponent("nan-teacher")
        try FileManager.default.createDirectory(at: teacher, withIntermediateDirectories: true)
        let source = CLI.fixtures.appendingPathComponent("tiny-cls")
        for name in ["config.json", "vocab.txt", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: teacher.appendingPathComponent(name))
        }
        let weights = try SafeTensorsFile(url: source.appendingPathComponent("model.safetensors"))
        var writer = SafeTensorsWriter()
        for name in weights.names {
            var values = try weights.floats(name)
            if name == "bert.encoder.layer.1.output.dense.bias" { values[3] = .nan }
            try writer.add(name, shape: weights.tensors[name]!.shape, floats: values)
        }
        try writer.write(to: teacher.appendingPathComponent("model.safetensors"))
        var arguments = cacheArguments(try data(rows: 6), folder.appendingPathComponent("nan.h5"))
        arguments[arguments.firstIndex(of: "--teacher")! + 1] = teacher.path
        let result = try CLI.run(arguments)
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("non-finite") && result.stderr.contains("example '2' (data row 1)"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("nan.h5").path))
    }

    func testFullDiskStopsWithAClearMessageAndNoCompleteFile() throws {
        let small = folder.appendingPathComponent("small")
        try FileManager.default.createDirectory(at: small, withIntermediateDirectories: true)
        let mount = try CLI.shell("mount -t tmpfs -o size=160k tmpfs \(small.path)")
        guard mount.status == 0 else { throw XCTSkip("cannot mount a small tmpfs here (needs root): \(mount.output)") }
        defer { _ = try? CLI.shell("umount \(small.path)") }
        let out = small.appendingPathComponent("c.h5")
        let result = try CLI.run(cacheArguments(try data(rows: 400), out) + ["--hidden-codec", "fp32"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.lowercased().contains("space") || result.stderr.contains("write"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "no complete-looking file")
    }

    /// Every dataset equal value for value, and the attributes that describe the content.
    private func assertSameContent(_ a: URL, _ b: URL, line: UInt = #line) throws {
        let fa = try H5File.open(a), fb = try H5File.open(b)
        defer { try? fa.close(); try? fb.close() }
        for attribute in ["sequences", "tokens", "committed_sequences"] {
            XCTAssertEqual(try fa.root.int64Attribute(attribute), try fb.root.int64Attribute(attribute), attribute, line: line)
        }
        XCTAssertEqual(try fa.root.stringAttribute("spec"), try fb.root.stringAttribute("spec"), line: line)
        var compared = 0
        func walk(_ ga: H5Group, _ gb: H5Group, _ prefix: String) throws {
            XCTAssertEqual(try ga.childNames.sorted(), try gb.childNames.sorted(), prefix, line: line)
            for name in try ga.childNames {
                if try ga.kind(of: name) == .group { try walk(try ga.group(name), try gb.group(name), prefix + "/" + name); continue }
                let da = try ga.dataset(name), db = try gb.dataset(name)
                XCTAssertEqual(da.rows, db.rows, prefix + "/" + name, line: line)
                switch da.elementType {
                case .float32, .float16, .bfloat16:
                    XCTAssertEqual(try da.read(Float.self, rows: 0..<da.rows), try db.read(Float.self, rows: 0..<db.rows), prefix + "/" + name, line: line)
                    if try da.hasAttribute("max_abs_error") {
                        XCTAssertEqual(try da.doubleAttribute("max_abs_error"), try db.doubleAttribute("max_abs_error"), line: line)
                    }
                default:
                    XCTAssertEqual(try da.read(Int64.self, rows: 0..<da.rows), try db.read(Int64.self, rows: 0..<db.rows), prefix + "/" + name, line: line)
                }
                compared += 1
            }
        }
        try walk(try fa.root, try fb.root, "")
        XCTAssertGreaterThan(compared, 10, line: line)
    }
}
