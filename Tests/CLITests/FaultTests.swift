import Foundation
import HDF5
import SafeTensors
import ShellWords
import TestSupport
import XCTest

/// Faults and bad input as a user meets them, through the command line: every case exits
/// non-zero (or recovers, where recovery is the documented behaviour), names the file, row or
/// key at fault, keeps what had been committed, and leaves no complete-looking half-written
/// file. The README's "Reliability" table lists each case with its test.
///
/// Cases tested elsewhere: a flipped byte named by `verify` (CacheCommandTests.testInspectAndVerifyReportDamage),
/// kill -9 during caching (CacheCommandTests.testKilledRunResumesToTheSameContentAsAnUninterruptedRun),
/// a full disk during caching (CacheCommandTests.testFullDiskStopsWithAClearMessageAndNoCompleteFile),
/// NaN in the teacher (CacheCommandTests.testNonFiniteTeacherOutputNamesTheExample), SIGINT and
/// kill -9 during training (ManyStudentsCommandTests.testInterruptedAndKilledRunsResumeToTheSameWeights),
/// malformed safetensors headers (SafeTensorsTests.MalformedFileTests), malformed rows per format
/// (DatasetsTests).
final class FaultTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try CLI.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private let teacher = CLI.fixtures.appendingPathComponent("tiny-cls")
    private var fm: FileManager { .default }

    private func cacheArguments(_ data: URL, _ out: URL, teacher: URL? = nil) -> [String] {
        ["cache", "--teacher", (teacher ?? self.teacher).path, "--data", data.path, "--label-field", "label", "--out", out.path,
         "--hidden", "0,2", "--logits", "full", "--max-length", "24", "--batch-size", "4", "--commit-every", "8",
         "--chunk-bytes", "4096", "--threads", "1"]
    }

    private func cache(rows: Int, name: String = "train", offset: Int = 0) throws -> URL {
        let data = try writeLabelledSentences(in: folder, rows: rows, name: "\(name).jsonl", offset: offset)
        let out = folder.appendingPathComponent("\(name).h5")
        let result = try CLI.run(cacheArguments(data, out))
        XCTAssertEqual(result.status, 0, result.stderr)
        return out
    }

    private func trainArguments(_ cache: URL, _ out: URL, teacher: URL? = nil) -> [String] {
        ["train", "--cache", cache.path, "--teacher", (teacher ?? self.teacher).path, "--out", out.path, "--layers", "1",
         "--objective", "kd=1", "--objective", "hidden_mse=1", "--hidden-mapping", "0:0,1:2", "--batch-size", "4",
         "--log-every", "1", "--threads", "1"]
    }

    /// A copy of the tiny classifier with its weights rewritten by `change` (name, values) and, if given, another vocabulary.
    private func teacherCopy(_ name: String, vocabulary: ((String) -> String)? = nil,
                             change: (String, inout [Float]) -> Void = { _, _ in }) throws -> URL {
        let copy = folder.appendingPathComponent(name)
        try fm.createDirectory(at: copy, withIntermediateDirectories: true)
        for file in ["config.json", "vocab.txt", "tokenizer_config.json"] {
            try fm.copyItem(at: teacher.appendingPathComponent(file), to: copy.appendingPathComponent(file))
        }
        if let vocabulary {
            let text = try String(contentsOf: copy.appendingPathComponent("vocab.txt"), encoding: .utf8)
            try vocabulary(text).write(to: copy.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        }
        let weights = try SafeTensorsFile(url: teacher.appendingPathComponent("model.safetensors"))
        var writer = SafeTensorsWriter()
        for key in weights.names {
            var values = try weights.floats(key)
            change(key, &values)
            try writer.add(key, shape: weights.tensors[key]!.shape, floats: values)
        }
        try writer.write(to: copy.appendingPathComponent("model.safetensors"))
        return copy
    }

    /// A copy of the tiny classifier whose config.json has `changes` laid over it.
    private func teacherCopy(_ name: String, config changes: [String: Any]) throws -> URL {
        let copy = try teacherCopy(name)
        let config = copy.appendingPathComponent("config.json")
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: config)) as? [String: Any])
        try JSONSerialization.data(withJSONObject: json.merging(changes) { $1 }).write(to: config)
        return copy
    }

    private func assertFails(_ result: ProgramResult, naming texts: [String], _ what: String, line: UInt = #line) {
        XCTAssertNotEqual(result.status, 0, "\(what): must fail", line: line)
        for text in texts {
            XCTAssertTrue(result.output.contains(text), "\(what): expected '\(text)' in: \(result.output)", line: line)
        }
        XCTAssertFalse(result.output.contains("Fatal error") || result.output.contains("Stack dump"), "\(what): crashed: \(result.output)", line: line)
    }

    private func assertNoCache(_ out: URL, _ what: String, line: UInt = #line) {
        XCTAssertFalse(fm.fileExists(atPath: out.path), "\(what): no complete-looking file", line: line)
        XCTAssertFalse(fm.fileExists(atPath: out.path + ".partial"), "\(what): nothing half-written", line: line)
    }

    // MARK: files

    /// A truncated cache, an HDF5 file of another kind and a cache of a future schema version are
    /// refused by `inspect`, `verify` and `train`, each naming the file; a cache with a damaged
    /// chunk stops training (Fletcher32) instead of teaching garbage.
    func testDamagedForeignAndFutureCachesAreRefused() throws {
        let good = try cache(rows: 40)
        let run = folder.appendingPathComponent("run")

        let truncated = folder.appendingPathComponent("truncated.h5")
        let bytes = try Data(contentsOf: good)
        try bytes.prefix(bytes.count * 6 / 10).write(to: truncated)

        let foreign = folder.appendingPathComponent("foreign.h5")
        let file = try H5File.create(foreign)
        let dataset = try file.root.createDataset("measurements", type: .float32, columns: 4)
        try dataset.append([Float](repeating: 1, count: 8))
        try file.root.setAttribute("instrument", "thermometer")
        try file.close()

        let future = folder.appendingPathComponent("future.h5")
        try fm.copyItem(at: good, to: future)
        let h5 = try H5File.open(future, writable: true)
        try h5.root.setAttribute("distillery_schema_version", Int64(99))
        try h5.close()

        for (url, reason) in [(truncated, "truncated.h5"), (foreign, "distillery_schema_version"), (future, "99")] {
            let name = url.lastPathComponent
            assertFails(try CLI.run(["verify", url.path]), naming: [name], "verify \(name)")
            if url == future {
                // inspect describes any cache it can open, the version first; reading it is refused.
                let inspect = try CLI.run(["inspect", url.path])
                XCTAssertTrue(inspect.stdout.contains("schema 99"), inspect.output)
            } else {
                assertFails(try CLI.run(["inspect", url.path]), naming: [name], "inspect \(name)")
            }
            let train = try CLI.run(trainArguments(url, run) + ["--max-steps", "2"])
            assertFails(train, naming: [name, reason], "train \(name)")
            XCTAssertFalse(fm.fileExists(atPath: run.appendingPathComponent("final").path), "train \(name): no student")
        }
        XCTAssertTrue(try CLI.run(["verify", future.path]).output.contains("newer than this Distillery"))

        // A flipped byte in a hidden-state chunk: training stops naming the dataset.
        let damaged = folder.appendingPathComponent("damaged.h5")
        try fm.copyItem(at: good, to: damaged)
        let reader = try H5File.open(damaged)
        let chunk = try reader.root.dataset("hidden/layer_2").chunkLocation(0)
        try reader.close()
        let handle = try FileHandle(forUpdating: damaged)
        try handle.seek(toOffset: UInt64(chunk.fileOffset + chunk.storedBytes / 2))
        let byte = try handle.read(upToCount: 1)![0]
        try handle.seek(toOffset: UInt64(chunk.fileOffset + chunk.storedBytes / 2))
        handle.write(Data([byte ^ 0x5A]))
        try handle.close()
        assertFails(try CLI.run(["verify", damaged.path]), naming: ["FAULT /hidden/layer_2 rows 0..<"], "verify damaged.h5")
        let train = try CLI.run(trainArguments(damaged, run) + ["--force", "--max-steps", "40"])
        assertFails(train, naming: ["damaged.h5", "hidden/layer_2"], "train damaged.h5")
        XCTAssertFalse(fm.fileExists(atPath: run.appendingPathComponent("done.json").path))
    }

    /// A teacher whose model.safetensors is truncated, points past its end, or stores a weight as
    /// integers: stage one stops before writing anything, naming the file and the key.
    func testBrokenTeacherWeightsAreNamed() throws {
        let data = try writeLabelledSentences(in: folder, rows: 8)
        let out = folder.appendingPathComponent("c.h5")

        let truncated = try teacherCopy("truncated")
        let weights = truncated.appendingPathComponent("model.safetensors")
        let bytes = try Data(contentsOf: weights)
        try bytes.prefix(bytes.count - 100).write(to: weights)
        assertFails(try CLI.run(cacheArguments(data, out, teacher: truncated)), naming: [weights.path], "truncated weights")
        assertNoCache(out, "truncated weights")

        // A header whose only tensor ends 4 bytes past the data.
        let beyond = try teacherCopy("beyond")
        let header = Array(#"{"bert.embeddings.word_embeddings.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#.utf8)
        var crafted = Data()
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { crafted.append(contentsOf: $0) }
        crafted.append(contentsOf: header)
        crafted.append(contentsOf: [UInt8](repeating: 0, count: 4))
        try crafted.write(to: beyond.appendingPathComponent("model.safetensors"))
        assertFails(try CLI.run(cacheArguments(data, out, teacher: beyond)),
                    naming: ["beyond/model.safetensors", "bert.embeddings.word_embeddings.weight"], "offsets beyond the file")
        assertNoCache(out, "offsets beyond the file")

        // One weight stored as I64.
        let integers = try teacherCopy("integers")
        let source = try SafeTensorsFile(url: teacher.appendingPathComponent("model.safetensors"))
        var writer = SafeTensorsWriter()
        for key in source.names {
            if key == "bert.encoder.layer.0.attention.self.query.bias" {
                try writer.add(key, shape: source.tensors[key]!.shape, int64s: try source.floats(key).map { Int64($0) })
            } else {
                try writer.add(key, shape: source.tensors[key]!.shape, floats: try source.floats(key))
            }
        }
        try writer.write(to: integers.appendingPathComponent("model.safetensors"))
        assertFails(try CLI.run(cacheArguments(data, out, teacher: integers)),
                    naming: ["integers/model.safetensors", "bert.encoder.layer.0.attention.self.query.bias", "I64"], "wrong dtype")
        assertNoCache(out, "wrong dtype")
    }

    /// `train --teacher` with another teacher's weights or vocabulary than the cache was built
    /// with is refused (the cache's provenance holds both hashes); the right teacher trains.
    func testTrainRefusesAnotherTeacherOrVocabulary() throws {
        let train = try cache(rows: 16)
        let run = folder.appendingPathComponent("run")
        let otherWeights = try teacherCopy("other-weights") { key, values in
            if key == "bert.encoder.layer.1.output.dense.bias" { values[0] += 0.5 }
        }
        assertFails(try CLI.run(trainArguments(train, run, teacher: otherWeights) + ["--max-steps", "2"]),
                    naming: ["other-weights is not the teacher", "train.h5"], "another teacher")
        // The same words in another order: the same size, other token ids.
        let otherVocabulary = try teacherCopy("other-vocabulary") { text in
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            lines.swapAt(10, 11)
            return lines.joined(separator: "\n")
        }
        assertFails(try CLI.run(trainArguments(train, run, teacher: otherVocabulary) + ["--max-steps", "2"]),
                    naming: ["the vocabulary in", "other-vocabulary", "differs"], "another vocabulary")
        XCTAssertFalse(fm.fileExists(atPath: run.appendingPathComponent("checkpoint").path))
        let right = try CLI.run(trainArguments(train, run) + ["--max-steps", "2"])
        XCTAssertEqual(right.status, 0, right.stderr)
    }

    // MARK: data

    /// Malformed JSONL and CSV rows, invalid UTF-8 and a label outside the fixed label map (later
    /// files use the first file's classes) stop stage one at `file:line` with nothing written;
    /// an empty text and a text far over --max-length are not faults: the first is cached as
    /// [CLS] [SEP], the second truncated to --max-length tokens.
    func testBadRowsAreNamedAndEdgeTextsAreCached() throws {
        let out = folder.appendingPathComponent("c.h5")
        func write(_ name: String, _ bytes: [UInt8]) throws -> URL {
            let url = folder.appendingPathComponent(name)
            try Data(bytes).write(to: url)
            return url
        }
        let good = #"{"text": "the cat sat", "label": "pos"}"# + "\n" + #"{"text": "a bad film", "label": "neg"}"# + "\n"
        let cases: [(URL, [String])] = [
            (try write("broken.jsonl", Array((good + #"{"text": "no end, "label": "pos"}"# + "\n").utf8)), ["broken.jsonl:3"]),
            (try write("broken.csv", Array("text,label\nthe cat,pos\n\"an open quote,neg\n".utf8)), ["broken.csv:3"]),
            (try write("latin1.jsonl", Array(good.utf8) + Array(#"{"text": "caf"#.utf8) + [0xE9] + Array(#"", "label": "pos"}"#.utf8) + [0x0A]),
             ["latin1.jsonl:3", "UTF-8"]),
        ]
        for (data, texts) in cases {
            assertFails(try CLI.run(cacheArguments(data, out)), naming: texts, data.lastPathComponent)
            assertNoCache(out, data.lastPathComponent)
        }
        // The second file may only use the first file's classes.
        let first = try write("first.jsonl", Array(good.utf8))
        let second = try write("second.jsonl", Array((good + #"{"text": "so so", "label": "meh"}"# + "\n").utf8))
        assertFails(try CLI.run(cacheArguments(first, out) + ["--data", second.path]), naming: ["second.jsonl:3", "meh"], "unknown label")
        assertNoCache(out, "unknown label")

        let long = (0..<5000).map { ["the", "cat", "sat", "on", "a", "mat"][$0 % 6] }.joined(separator: " ")
        let edges = try write("edges.jsonl", Array((#"{"text": "", "label": "pos"}"# + "\n" + #"{"text": "\#(long)", "label": "neg"}"# + "\n").utf8))
        let result = try CLI.run(cacheArguments(edges, out))
        XCTAssertEqual(result.status, 0, result.stderr)
        let file = try H5File.open(out)
        XCTAssertEqual(try file.root.dataset("inputs/offsets").read(Int64.self, rows: 0..<3), [0, 2, 26], "[CLS] [SEP], then 24 tokens")
        try file.close()
        XCTAssertEqual(try CLI.run(["verify", out.path]).status, 0)
    }

    /// Resuming an interrupted `distillery cache` over a data file changed meanwhile is refused
    /// (content hash), and the committed part stays resumable with the original file.
    func testResumeOverChangedDataIsRefused() throws {
        let data = try writeLabelledSentences(in: folder, rows: 40)
        let original = try Data(contentsOf: data)
        let out = folder.appendingPathComponent("c.h5")
        XCTAssertEqual(try CLI.run(cacheArguments(data, out), environment: ["DISTILLERY_FAULT_KILL_AFTER_COMMITS": "2"]).status, 137)
        // One word of one text changed: the file still parses, with other content.
        try String(decoding: original, as: UTF8.self).replacingOccurrences(of: "\"ex7\", \"text\": \"", with: "\"ex7\", \"text\": \"X")
            .write(to: data, atomically: true, encoding: .utf8)
        XCTAssertNotEqual(try Data(contentsOf: data), original)
        let partial = try Data(contentsOf: URL(fileURLWithPath: out.path + ".partial"))
        assertFails(try CLI.run(cacheArguments(data, out) + ["--resume"]), naming: ["c.h5.partial", "other data"], "changed data")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out.path + ".partial")), partial, "the refused resume changed nothing")
        XCTAssertFalse(fm.fileExists(atPath: out.path))
        try original.write(to: data)
        let resumed = try CLI.run(cacheArguments(data, out) + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try CLI.run(["verify", out.path]).status, 0)
    }

    /// A dev cache whose classes differ from the training cache's (a dev file changed, or one
    /// lacking a class) is refused: labels are indices into each cache's own class list.
    func testDevCacheWithOtherClassesIsRefused() throws {
        let train = try cache(rows: 12)
        let devData = folder.appendingPathComponent("dev.jsonl")
        try (0..<6).map { #"{"text": "the cat \#($0)", "label": "\#(["negative", "positive"][$0 % 2])"}"# }.joined(separator: "\n")
            .write(to: devData, atomically: true, encoding: .utf8)
        let dev = folder.appendingPathComponent("dev.h5")
        XCTAssertEqual(try CLI.run(cacheArguments(devData, dev)).status, 0)
        let result = try CLI.run(trainArguments(train, folder.appendingPathComponent("run")) + ["--dev", dev.path, "--max-steps", "2"])
        assertFails(result, naming: ["dev.h5", "[\"negative\", \"positive\"]", "[\"negative\", \"neutral\", \"positive\"]"], "dev classes")
    }

    /// Values of `path` rewritten through HDF5 (so every chunk's checksum is valid again).
    private func rewrite<T: H5Scalar>(_ cache: URL, _ path: String, as type: T.Type, _ change: (inout [T]) -> Void) throws {
        let file = try H5File.open(cache, writable: true)
        let dataset = try file.root.dataset(path)
        var values = try dataset.read(T.self, rows: 0..<dataset.rows)
        change(&values)
        try dataset.truncate(toRows: 0)
        try dataset.append(values)
        try file.close()
    }

    /// A cache whose labels hold a class outside the label map, or whose token ids or token types
    /// are past their embedding, with valid checksums: `verify` names the dataset and row, and
    /// `train` (the cache as training or as --dev data) refuses by dataset and row instead of
    /// indexing with it (it trapped with no message, exit 132).
    func testOutOfRangeValuesAreNamedByDatasetAndRow() throws {
        let cases: [(path: String, row: Int, bound: String, change: (URL) throws -> Void)] = [
            ("inputs/labels", 3, "outside 0..<3 (the label map", { try self.rewrite($0, "inputs/labels", as: Int64.self) { $0[3] = 7 } }),
            ("inputs/input_ids", 5, "(the teacher's vocabulary)", { try self.rewrite($0, "inputs/input_ids", as: UInt16.self) { $0[5] = 60_000 } }),
            ("inputs/token_type_ids", 2, "(the teacher's token types", { try self.rewrite($0, "inputs/token_type_ids", as: UInt8.self) { $0[2] = 9 } }),
        ]
        let good = try cache(rows: 12, name: "good")
        for (path, row, bound, change) in cases {
            let bad = folder.appendingPathComponent("bad.h5")
            try? fm.removeItem(at: bad)
            try fm.copyItem(at: good, to: bad)
            try change(bad)
            let verify = try CLI.run(["verify", bad.path])
            assertFails(verify, naming: ["/\(path) rows \(row)..<\(row + 1)", bound], "verify \(path)")
            let train = try CLI.run(trainArguments(bad, folder.appendingPathComponent("run-\(row)")) + ["--max-steps", "2"])
            assertFails(train, naming: ["bad.h5", "/\(path) row \(row)", bound], "train on \(path)")
            let dev = try CLI.run(trainArguments(good, folder.appendingPathComponent("dev-\(row)")) + ["--dev", bad.path, "--max-steps", "2", "--force"])
            assertFails(dev, naming: ["bad.h5", "/\(path) row \(row)"], "--dev with a bad \(path)")
        }
    }

    /// config.json sizes are bounded and checked against the weights before anything is
    /// allocated: 100,000 layers (which asked for 709 GB) and 40 layers over weights for fewer are
    /// refused naming the file, fast and without a large allocation.
    func testConfigSizesAreCheckedBeforeAllocating() throws {
        let data = try writeLabelledSentences(in: folder, rows: 4)
        for (layers, naming) in [(100_000, ["config.json", "num_hidden_layers 100000 is over 256"]),
                                 (40, ["model.safetensors", "missing tensor", "from config.json"])] {
            let copy = try teacherCopy("layers-\(layers)", config: ["num_hidden_layers": layers])
            let out = folder.appendingPathComponent("layers-\(layers).h5")
            let result = try runProgram("/usr/bin/time", ["-f", "max-rss-kb %M", builtProduct("distillery").path] + cacheArguments(data, out, teacher: copy))
            assertFails(result, naming: naming, "\(layers) layers")
            let rss = result.stderr.split(separator: "\n").last { $0.hasPrefix("max-rss-kb ") }.flatMap { Int($0.dropFirst(11)) } ?? 0
            XCTAssertLessThan(rss, 500_000, "\(layers) layers: \(rss) KB resident before refusing")
            assertNoCache(out, "\(layers) layers")
        }
    }

    /// A setting beside `train:` or `cache:` (wrongly indented, or a typo) is refused by name,
    /// not silently ignored; a file holding both blocks still serves both commands.
    func testStrayTopLevelKeyInASpecFileIsRefused() throws {
        let cacheFile = try cache(rows: 8)
        let spec = folder.appendingPathComponent("spec.yaml")
        try "train:\n  epochs: 1\nlearning_rate: 0.5\n".write(to: spec, atomically: true, encoding: .utf8)
        assertFails(try CLI.run(trainArguments(cacheFile, folder.appendingPathComponent("run")) + ["--spec", spec.path]),
                    naming: ["spec.yaml", "'learning_rate'", "indent it under `train:`"], "train --spec")
        let data = try writeLabelledSentences(in: folder, rows: 4, name: "more.jsonl")
        try "cache:\n  max_length: 16\nhiden_layers: [1]\n".write(to: spec, atomically: true, encoding: .utf8)
        let out = folder.appendingPathComponent("spec.h5")
        assertFails(try CLI.run(cacheArguments(data, out) + ["--spec", spec.path]), naming: ["'hiden_layers'", "indent it under `cache:`"], "cache --spec")
        assertNoCache(out, "cache --spec")
        try "cache:\n  max_length: 16\ntrain:\n  epochs: 1\n".write(to: spec, atomically: true, encoding: .utf8)
        XCTAssertEqual(try CLI.run(cacheArguments(data, out) + ["--spec", spec.path]).status, 0, "both blocks in one file")
    }

    /// --max-length over the teacher's max_position_embeddings is refused (it was capped at 512
    /// while the cache recorded the larger number), by `cache` and by `forward`.
    func testMaxLengthOverThePositionsIsRefused() throws {
        let data = try writeLabelledSentences(in: folder, rows: 4)
        let out = folder.appendingPathComponent("long.h5")
        var arguments = cacheArguments(data, out)
        arguments[arguments.firstIndex(of: "--max-length")! + 1] = "1000000"
        assertFails(try CLI.run(arguments), naming: ["max_length 1000000", "max_position_embeddings", "config.json"], "cache")
        assertNoCache(out, "cache --max-length 1000000")
        let lines = folder.appendingPathComponent("lines.txt")
        try "a cat\n".write(to: lines, atomically: true, encoding: .utf8)
        assertFails(try CLI.run(["forward", "--model", teacher.path, "--input", lines.path, "--max-length", "1000000", "--out", folder.appendingPathComponent("f").path]),
                    naming: ["--max-length 1000000", "max_position_embeddings"], "forward")
    }

    /// `tokenize` names the line of invalid UTF-8 on standard input (it dropped it silently).
    func testTokenizeRefusesInvalidUTF8ByLine() throws {
        let result = try runProgram(URL(fileURLWithPath: "/bin/sh"), ["-c", "printf 'a cat\\nthe \\377 dog\\n' | \(ShellWords.quoted(builtProduct("distillery").path)) tokenize --model \(ShellWords.quoted(teacher.path))"])
        assertFails(result, naming: ["standard input:2", "invalid UTF-8 (byte 0xFF at column 5)"], "tokenize")
    }

    /// A model family this build does not read (`model_type` in config.json) is refused by name,
    /// with the supported list, before its weights are looked at.
    func testUnknownModelTypeIsRefusedByName() throws {
        let data = try writeLabelledSentences(in: folder, rows: 4)
        for modelType in ["deberta-v2", "electra"] {
            let copy = try teacherCopy("type-\(modelType)", config: ["model_type": modelType])
            let out = folder.appendingPathComponent("type-\(modelType).h5")
            assertFails(try CLI.run(cacheArguments(data, out, teacher: copy)),
                        naming: ["config.json", "model_type '\(modelType)' is not supported; supported: bert, roberta, xlm-roberta, distilbert"], modelType)
            assertNoCache(out, modelType)
        }
    }

    /// A masked-LM cache whose `mlm/positions` point past their sequence (valid checksums):
    /// `verify` and training name the dataset, row and sequence.
    func testMaskedPositionOutsideItsSequenceIsNamed() throws {
        let data = folder.appendingPathComponent("mlm.jsonl")
        try (0..<12).map { #"{"text": "the cat sat on the mat number \#($0) today"}"# }.joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        let mlm = CLI.fixtures.appendingPathComponent("tiny-mlm"), out = folder.appendingPathComponent("mlm.h5")
        let built = try CLI.run(["cache", "--teacher", mlm.path, "--data", data.path, "--out", out.path, "--logits", "full", "--max-length", "24", "--threads", "1"])
        XCTAssertEqual(built.status, 0, built.stderr)
        try rewrite(out, "mlm/positions", as: Int32.self) { $0[2] = 99 }
        assertFails(try CLI.run(["verify", out.path]), naming: ["/mlm/positions rows 2..<3", "position 99 is outside sequence"], "verify")
        assertFails(try CLI.run(["train", "--cache", out.path, "--teacher", mlm.path, "--out", folder.appendingPathComponent("run").path,
                                 "--layers", "1", "--max-steps", "2", "--threads", "1"]),
                    naming: ["mlm.h5", "/mlm/positions row 2: position 99 is outside sequence"], "train")
    }

    /// One flipped byte in the label_names attribute: `verify` finds it (as `train` does).
    func testDamagedLabelNamesFailVerify() throws {
        let out = try cache(rows: 12)
        let file = try H5File.open(out, writable: true)
        let names = try file.root.stringAttribute("label_names")
        try file.root.setAttribute("label_names", String(names.dropLast()) + "}")
        try file.close()
        assertFails(try CLI.run(["verify", out.path]), naming: ["label_names"], "verify")
        assertFails(try CLI.run(trainArguments(out, folder.appendingPathComponent("run")) + ["--max-steps", "2"]), naming: ["label_names"], "train")
    }

    // MARK: numbers

    /// A learning rate that makes the loss diverge: the student stops naming the update, its
    /// last periodic checkpoint stays (finite weights), the message says where it is, and
    /// `--resume` with a lower learning rate is refused (a checkpoint continues only its own
    /// configuration) while `--force` with a lower one trains.
    func testDivergingStudentKeepsItsLastCheckpoint() throws {
        let train = try cache(rows: 16)
        let run = folder.appendingPathComponent("run")
        let diverging = trainArguments(train, run) + ["--max-steps", "40", "--checkpoint-every", "1", "--warmup-ratio", "0",
                                                       "--clip-norm", "0", "--schedule", "constant"]
        let result = try CLI.run(diverging + ["--learning-rate", "1e9"])
        assertFails(result, naming: ["training diverged", "\(run.path)/checkpoint", "--force and a lower --learning-rate"], "divergence")
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("checkpoint/state.json"))) as! [String: Any]
        let step = state["step"] as! Int
        XCTAssertTrue(result.output.contains("last checkpoint (update \(step)"), result.output)
        let values = try SafeTensorsFile(url: run.appendingPathComponent("checkpoint/state.safetensors"))
        for key in values.names { XCTAssertTrue(try values.floats(key).allSatisfy(\.isFinite), key) }
        XCTAssertFalse(fm.fileExists(atPath: run.appendingPathComponent("final").path))

        let lower = try CLI.run(diverging + ["--learning-rate", "1e-3", "--resume"])
        assertFails(lower, naming: ["another configuration"], "resume with a lower learning rate")
        XCTAssertTrue(fm.fileExists(atPath: run.appendingPathComponent("checkpoint/state.json").path), "the refused resume keeps the checkpoint")
        let again = try CLI.run(diverging + ["--learning-rate", "1e-3", "--force"])
        XCTAssertEqual(again.status, 0, again.stderr)
    }

    // MARK: process

    /// Two writers on one cache path: the second refuses (whatever its flags) while the first
    /// holds the lock, and the first finishes a cache that verifies.
    func testSecondWriterOnTheSamePathIsRefused() throws {
        let data = try writeLabelledSentences(in: folder, rows: 3000)
        let out = folder.appendingPathComponent("c.h5")
        // The first writer is stopped (SIGSTOP) as soon as its partial file exists, so it holds the lock.
        // (A Process writing to a file, not through a pipe: a stopped child must not hold the test's pipes.)
        let first = Process()
        first.executableURL = builtProduct("distillery")
        first.arguments = cacheArguments(data, out)
        let log = folder.appendingPathComponent("first.out")
        fm.createFile(atPath: log.path, contents: nil)
        let logHandle = try FileHandle(forWritingTo: log)
        first.standardOutput = logHandle
        first.standardError = logHandle
        try first.run()
        while !fm.fileExists(atPath: out.path + ".partial") && first.isRunning { usleep(2000) }
        kill(first.processIdentifier, SIGSTOP)
        defer { kill(first.processIdentifier, SIGCONT) }
        guard first.isRunning, fm.fileExists(atPath: out.path + ".partial") else {
            throw XCTSkip("the first writer finished before it could be stopped")
        }
        for flags in [[], ["--overwrite"], ["--resume"]] {
            assertFails(try CLI.run(cacheArguments(data, out) + flags), naming: ["another process is writing", out.path], "second writer \(flags)")
        }
        XCTAssertTrue(fm.fileExists(atPath: out.path + ".partial"), "the second writer left the first one's file alone")
        kill(first.processIdentifier, SIGCONT)
        first.waitUntilExit()
        try logHandle.close()
        XCTAssertEqual(first.terminationStatus, 0)
        let printed = try String(contentsOf: log, encoding: .utf8)
        XCTAssertTrue(printed.contains("wrote \(out.path)"), printed)
        XCTAssertEqual(try CLI.run(["verify", out.path]).status, 0)
    }

    /// A disk that fills while a checkpoint is written: the student stops naming the checkpoint,
    /// the previous checkpoint stays whole, and on a disk with room `--resume` ends with the
    /// weights of an uninterrupted run.
    func testFullDiskDuringCheckpointKeepsThePreviousOne() throws {
        let train = try cache(rows: 16)
        let arguments = { (out: URL) in self.trainArguments(train, out) + ["--max-steps", "8", "--checkpoint-every", "2"] }
        let reference = folder.appendingPathComponent("reference")
        XCTAssertEqual(try CLI.run(arguments(reference)).status, 0)
        let expected = try Data(contentsOf: reference.appendingPathComponent("final/model.safetensors"))

        // Room for one checkpoint (values and two AdamW moments: about 3× the model) but not for
        // the next one written beside it.
        let small = folder.appendingPathComponent("small")
        try fm.createDirectory(at: small, withIntermediateDirectories: true)
        let kilobytes = expected.count * 9 / 2 / 1024
        let mount = try CLI.shell("mount -t tmpfs -o size=\(kilobytes)k tmpfs \(small.path)")
        guard mount.status == 0 else { throw XCTSkip("cannot mount a small tmpfs here (needs root): \(mount.output)") }
        defer { _ = try? CLI.shell("umount \(small.path)") }
        let run = small.appendingPathComponent("run")
        let full = try CLI.run(arguments(run))
        assertFails(full, naming: ["cannot write the checkpoint \(run.path)/checkpoint", "previous checkpoint"], "full disk")
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("checkpoint/state.json"))) as! [String: Any]
        XCTAssertEqual(state["step"] as? Int, 2)
        XCTAssertFalse(fm.fileExists(atPath: run.appendingPathComponent(".checkpoint.partial").path), "no half-written checkpoint")

        let moved = folder.appendingPathComponent("moved")
        try fm.copyItem(at: run, to: moved)
        let resumed = try CLI.run(arguments(moved) + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("resumed at update 2"), resumed.stdout)
        XCTAssertEqual(try Data(contentsOf: moved.appendingPathComponent("final/model.safetensors")), expected)
    }
}
