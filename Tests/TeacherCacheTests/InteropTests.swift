import Foundation
import HDF5
import ShellWords
import TestSupport
import XCTest
@testable import TeacherCache

/// Caches are plain HDF5: h5dump (with the zstd plugin) and h5py + hdf5plugin read the same
/// numbers as Distillery's reader. h5dump exits 0 with an empty DATA block when it cannot load
/// a filter, so these tests look at values, never only at exit codes.
final class InteropTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try CacheFixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private func cache(codec: TensorCodec, compression: CacheSpec.CacheCompression) throws -> URL {
        var spec = CacheSpec()
        spec.maxLength = 16; spec.batchSize = 4
        spec.hiddenLayers = [0, 2]; spec.attentionLayers = [2]; spec.logits = [.full]
        spec.codecs.hidden = codec; spec.codecs.attention = codec
        spec.compression = compression
        let out = folder.appendingPathComponent("\(codec)-\(compression).h5")
        try CacheFixtures.build(teacher: "cls", data: try CacheFixtures.dataFile(in: folder, rows: 9), spec: spec, out: out)
        return out
    }

    private func pluginDirectory() throws -> String {
        let path = ProcessInfo.processInfo.environment["DISTILLERY_PLUGIN_DIR"]
            ?? CacheFixtures.packageRoot.appendingPathComponent("build/hdf5-plugins").path
        guard FileManager.default.fileExists(atPath: path + "/libh5zstd.so") else {
            throw XCTSkip("zstd HDF5 plugin not built at \(path): run `make plugin`")
        }
        return path
    }


    func testH5dumpPrintsTheCachedNumbersThroughThePlugin() throws {
        let plugins = try pluginDirectory()
        guard try shell("command -v h5dump").status == 0 else { throw XCTSkip("h5dump not installed (apt-get install hdf5-tools)") }
        let out = try cache(codec: .fp32, compression: .zstd)
        let expected = try CacheReader(url: out).sequence(0).hidden[2]!
        let dump = try shell("h5dump -d /hidden/layer_2 -s 0,0 -c 1,8 -m %.9g \(out.path)", environment: ["HDF5_PLUGIN_PATH": plugins])
        XCTAssertEqual(dump.status, 0, dump.output)
        let numbers = numbersAfterData(dump.output)
        XCTAssertEqual(numbers.count, 8, dump.output)
        for (a, b) in zip(numbers, expected.prefix(8)) { XCTAssertEqual(Float(a), b, accuracy: 1e-6) }
        // Without the plugin the values are missing: the test above really went through it.
        let blind = try shell("h5dump -d /hidden/layer_2 -s 0,0 -c 1,8 \(out.path)", environment: ["HDF5_PLUGIN_PATH": folder.path])
        XCTAssertLessThan(numbersAfterData(blind.output).count, 8)
    }

    /// `distillery inspect` prints an h5dump command that works as printed: in a shell with no
    /// environment at all (no HDF5_PLUGIN_PATH), h5dump finds the zstd plugin in HDF5's own
    /// folder (`make plugin` installs it there) and prints the values Distillery reads.
    func testInspectsH5dumpCommandWorksInAPlainShell() throws {
        guard try shell("command -v h5dump").status == 0 else { throw XCTSkip("h5dump not installed (apt-get install hdf5-tools)") }
        let out = try cache(codec: .fp16, compression: .zstd)
        let report = try CacheReport.read(out)
        let command = try XCTUnwrap(report.h5dumpCommand)
        guard H5Plugins.zstdFolder() != nil else {
            // `make test` installs the plugin; only a bare `swift test` may lack it.
            if ProcessInfo.processInfo.environment["DISTILLERY_PLUGIN_DIR"] != nil {
                XCTFail("the zstd plugin is not in HDF5's folder (\(H5Plugins.searchPath())): `make plugin` should have installed it")
            }
            XCTAssertTrue(report.text().contains("h5dump cannot decompress"), report.text())
            throw XCTSkip("the zstd plugin is not installed in \(H5Plugins.searchPath()): run `make plugin`")
        }
        XCTAssertTrue(report.text().contains("read with h5dump (zstd plugin in ") && report.text().contains(command), report.text())
        let dump = try shell("env -i /bin/sh -c \(ShellWords.quoted(command))")
        XCTAssertEqual(dump.status, 0, dump.output)
        let numbers = numbersAfterData(dump.output)
        let expected = try CacheReader(url: out).sequence(0).hidden[2]!
        XCTAssertTrue(command.hasPrefix("h5dump -d /hidden/layer_2 -s 0,0 -c 1,8 "), command)
        XCTAssertEqual(numbers.count, 8, dump.output)
        // h5dump prints floats with %g (6 significant digits).
        for (a, b) in zip(numbers, expected.prefix(8)) { XCTAssertEqual(Float(a), b, accuracy: 1e-5 * max(1, abs(b))) }
    }

    func testGzipCachesNeedNoPlugin() throws {
        guard try shell("command -v h5dump").status == 0 else { throw XCTSkip("h5dump not installed") }
        let out = try cache(codec: .fp16, compression: .gzip)
        let expected = try CacheReader(url: out).sequence(0).hidden[0]!
        let dump = try shell("h5dump -d /hidden/layer_0 -s 0,0 -c 1,4 -m %.9g \(out.path)", environment: ["HDF5_PLUGIN_PATH": folder.path])
        let numbers = numbersAfterData(dump.output)
        XCTAssertEqual(numbers.count, 4, dump.output)
        for (a, b) in zip(numbers, expected.prefix(4)) { XCTAssertEqual(Float(a), b, accuracy: 1e-6) }
    }

    func testH5pyAndHdf5pluginReadTheSameValues() throws {
        guard try shell("python3 -c 'import h5py, hdf5plugin, numpy'").status == 0 else {
            throw XCTSkip("python3 with h5py, hdf5plugin and numpy is not available (make setup-python)")
        }
        for codec in [TensorCodec.fp16, .int8] {
            let out = try cache(codec: codec, compression: .zstd)
            let script = CacheFixtures.packageRoot.appendingPathComponent("scripts/check_cache.py").path
            let result = try shell("python3 \(script) \(out.path) --sequence 3")
            XCTAssertEqual(result.status, 0, result.output)
            let json = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as! [String: Any]
            let reader = try CacheReader(url: out)
            let s = try reader.sequence(3)
            XCTAssertEqual(json["complete"] as? Int, 1)
            XCTAssertEqual(json["sequences"] as? Int, reader.sequenceCount)
            XCTAssertEqual((json["input_ids"] as? [Int])?.map(Int32.init), s.inputIds)
            for (key, values) in [("hidden.0", s.hidden[0]!), ("hidden.2", s.hidden[2]!), ("attention.2", s.attention[2]!), ("logits.full", s.fullLogits)] {
                let python = (json[key] as! [Double]).map(Float.init)
                XCTAssertEqual(python.count, values.count, key)
                // Same stored bytes, same decoding: equal up to the float32 product of int8 × scale.
                XCTAssertLessThanOrEqual(zip(python, values).map { abs($0 - $1) }.max() ?? 0, 1e-6, "\(codec) \(key)")
            }
            XCTAssertLessThan(json["attention.2.row_sums_max_deviation"] as! Double, 0.02, "attention rows are distributions")
        }
    }

    /// The numbers inside h5dump's DATA { … } block (after the "(row,col):" index prefixes).
    private func numbersAfterData(_ output: String) -> [Double] {
        guard let start = output.range(of: "DATA {") else { return [] }
        let body = output[start.upperBound...].prefix { $0 != "}" }
        let cleaned = body.replacingOccurrences(of: #"\([0-9, ]+\):"#, with: " ", options: .regularExpression)
        return cleaned.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" }).compactMap { Double($0) }
    }
}
