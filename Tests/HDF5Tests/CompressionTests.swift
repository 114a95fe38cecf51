import Foundation
import HDF5
import TestSupport
import XCTest

/// zstd and gzip datasets: read back here, by h5dump through the plugin, and by h5py + hdf5plugin;
/// a damaged chunk fails its Fletcher32 check.
final class CompressionTests: XCTestCase {
    /// 40 rows × 6 columns of values that print exactly with 9 significant digits.
    private let values: [Float] = (0..<240).map { Float($0 % 37) * 0.25 - Float($0 / 37) * 3 }

    private func writeFile(_ url: URL, compression: H5Compression) throws -> [H5FilterInfo] {
        let file = try H5File.create(url)
        let group = try file.root.createGroup("teacher")
        let dataset = try group.createDataset("hidden", type: .float32, columns: 6,
                                              options: H5DatasetOptions(chunkRows: 16, compression: compression))
        try dataset.append(Array(values[0..<60]))
        try dataset.append(Array(values[60...]))
        let half = try group.createDataset("half", type: .float16, columns: 6,
                                           options: H5DatasetOptions(chunkRows: 16, compression: compression))
        try half.append(values)
        let ids = try file.root.createDataset("ids", type: .int64, options: H5DatasetOptions(chunkRows: 7, compression: compression))
        try ids.append((0..<50).map { Int64($0) * 1_000_000_007 })
        try file.root.setAttribute("teacher", "sentence-transformers/all-MiniLM-L6-v2")
        let filters = dataset.filters
        try file.close()
        return filters
    }

    func testZstdDatasetsReadBackWithTheirPipeline() throws {
        let folder = try TemporaryFolder()
        let url = folder.file("z.h5")
        let filters = try writeFile(url, compression: .zstd(level: 5))
        XCTAssertEqual(filters.map(\.id), [2, 32015, 3])
        XCTAssertEqual(filters[1].name, "zstd")
        XCTAssertEqual(filters[1].parameters, [5])
        XCTAssertEqual(filters[0].parameters, [4], "shuffle records the element size")
        let file = try H5File.open(url)
        let hidden = try file.root.dataset("teacher/hidden")
        XCTAssertEqual(try hidden.read(Float.self, rows: 0..<40), values)
        XCTAssertEqual(try hidden.read(Float.self, rows: 15..<17), Array(values[90..<102]))
        XCTAssertEqual(try hidden.chunkCodec().compression, .zstd(level: 5))
        XCTAssertEqual(try file.root.dataset("teacher/half").read(Float.self, rows: 0..<40), values, "these values are exact in half")
        XCTAssertEqual(try file.root.dataset("ids").read(Int64.self, rows: 45..<50), (45..<50).map { Int64($0) * 1_000_000_007 })
        // The data really is compressed: 40×6 floats in 3 chunks of 16 rows each (384 B raw) are stored smaller.
        let stored = try (0..<hidden.chunkCount).map { try hidden.chunkLocation($0).storedBytes }
        XCTAssertEqual(stored.count, 3)
        XCTAssertTrue(stored.allSatisfy { $0 < 16 * 6 * 4 }, "stored chunk sizes \(stored)")
    }

    func testGzipDatasetsReadBack() throws {
        let folder = try TemporaryFolder()
        let url = folder.file("g.h5")
        let filters = try writeFile(url, compression: .gzip(level: 6))
        XCTAssertEqual(filters.map(\.id), [2, 1, 3])
        XCTAssertEqual(filters[1].parameters, [6])
        let file = try H5File.open(url)
        XCTAssertEqual(try file.root.dataset("teacher/hidden").read(Float.self, rows: 0..<40), values)
        XCTAssertEqual(try file.root.dataset("teacher/hidden").chunkCodec().compression, .gzip(level: 6))
        XCTAssertEqual(try file.root.dataset("ids").read(Int64.self, rows: 0..<3), [0, 1_000_000_007, 2_000_000_014])
    }

    /// h5dump loads libh5zstd.so through HDF5_PLUGIN_PATH and prints the values; without
    /// the plugin it prints no values (and still exits 0), so the values are what is checked.
    func testH5dumpReadsZstdThroughThePlugin() throws {
        guard onPath("h5dump") else { throw XCTSkip("h5dump is not installed (apt: hdf5-tools)") }
        let plugins = try pluginFolder()
        let folder = try TemporaryFolder()
        let url = folder.file("dump.h5")
        _ = try writeFile(url, compression: .zstd(level: 3))

        func dump(_ path: String, pluginPath: String) throws -> (status: Int32, numbers: [Double], output: String) {
            let result = try runProgram("h5dump", ["-y", "-m", "%.9g", "-d", path, url.path],
                                 environment: ["HDF5_PLUGIN_PATH": pluginPath])
            return (result.status, Self.dataNumbers(result.output), result.output)
        }
        let hidden = try dump("/teacher/hidden", pluginPath: plugins.path)
        XCTAssertEqual(hidden.status, 0, hidden.output)
        XCTAssertEqual(hidden.numbers, values.map(Double.init), hidden.output)
        let half = try dump("/teacher/half", pluginPath: plugins.path)
        XCTAssertEqual(half.numbers, values.map(Double.init), half.output)
        let ids = try dump("/ids", pluginPath: plugins.path)
        XCTAssertEqual(ids.numbers, (0..<50).map { Double($0) * 1_000_000_007 }, ids.output)

        // Negative control: no plugin, no values.
        let empty = try TemporaryFolder()
        let without = try dump("/teacher/hidden", pluginPath: empty.url.path)
        XCTAssertTrue(without.numbers.isEmpty, "h5dump printed values without the zstd plugin:\n\(without.output)")
    }

    /// The numbers inside the DATA { } block of h5dump's output.
    static func dataNumbers(_ output: String) -> [Double] {
        guard let start = output.range(of: "DATA {") else { return [] }
        let body = output[start.upperBound...].prefix { $0 != "}" }
        return body.split(whereSeparator: { $0 == "," || $0.isWhitespace }).compactMap { Double($0) }
    }

    /// Flipping one byte inside a stored chunk of a Fletcher32 dataset makes reading that
    /// chunk fail with an error naming the dataset; the other chunks still read.
    func testCorruptChunkFailsItsChecksum() throws {
        let folder = try TemporaryFolder()
        let url = folder.file("c.h5")
        _ = try writeFile(url, compression: .zstd(level: 3))
        let location: H5ChunkLocation
        do {
            let file = try H5File.open(url)
            location = try file.root.dataset("teacher/hidden").chunkLocation(1)
        }
        let handle = try FileHandle(forUpdating: url)
        let offset = UInt64(location.fileOffset + location.storedBytes / 2)
        try handle.seek(toOffset: offset)
        let original = try XCTUnwrap(handle.readData(ofLength: 1).first)
        try handle.seek(toOffset: offset)
        handle.write(Data([original ^ 0x5a]))
        try handle.close()

        let file = try H5File.open(url)
        let hidden = try file.root.dataset("teacher/hidden")
        XCTAssertEqual(try hidden.read(Float.self, rows: 0..<16), Array(values[0..<96]), "chunk 0 is intact")
        guard let error = assertH5Error(try hidden.read(Float.self, rows: 16..<20)) else { return }
        XCTAssertEqual(error.object, "/teacher/hidden")
        XCTAssertEqual(error.file, url.path)
        XCTAssertTrue(error.description.contains("/teacher/hidden"), error.description)
        XCTAssertTrue(error.description.lowercased().contains("fletcher32"), "\(error) \(error.hdf5Stack)")
        // The codec's own check catches it too.
        let codec = try hidden.chunkCodec()
        let damaged = try hidden.readEncodedChunk(1)
        XCTAssertTrue(assertH5Error(try codec.decode(damaged))?.reason.contains("Fletcher32") ?? false)
    }

    /// h5py (with hdf5plugin providing zstd) reads what this module wrote.
    func testH5pyWithHdf5pluginReadsSwiftWrittenZstd() throws {
        let python = ProcessInfo.processInfo.environment["PYTHON"] ?? "python3"
        guard (try? runProgram(python, ["-c", "import h5py, hdf5plugin, numpy"]).status) == 0 else {
            throw XCTSkip("\(python) lacks h5py, hdf5plugin or numpy (make setup-python installs them)")
        }
        let folder = try TemporaryFolder()
        let url = folder.file("py.h5")
        _ = try writeFile(url, compression: .zstd(level: 3))
        let script = """
        import sys, json, h5py, hdf5plugin
        with h5py.File(sys.argv[1], "r") as f:
            h = f["teacher/hidden"]; half = f["teacher/half"]; ids = f["ids"]
            print(json.dumps({
                "hidden": h[...].astype("float64").ravel().tolist(), "shape": list(h.shape),
                "maxshape": [m if m is not None else -1 for m in h.maxshape],
                "half": half[...].astype("float64").ravel().tolist(), "half_dtype": str(half.dtype),
                "ids": ids[...].tolist(), "teacher": f.attrs["teacher"],
                "filters": sorted(str(k) for k in h._filters.keys())}))
        """
        let result = try runProgram(python, ["-c", script, url.path])
        XCTAssertEqual(result.status, 0, result.output)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], result.output)
        XCTAssertEqual(json["hidden"] as? [Double], values.map(Double.init))
        XCTAssertEqual(json["shape"] as? [Int], [40, 6])
        XCTAssertEqual(json["maxshape"] as? [Int], [-1, 6])
        XCTAssertEqual(json["half"] as? [Double], values.map(Double.init))
        XCTAssertEqual(json["half_dtype"] as? String, "float16")
        XCTAssertEqual(json["ids"] as? [Int], (0..<50).map { $0 * 1_000_000_007 })
        XCTAssertEqual(json["teacher"] as? String, "sentence-transformers/all-MiniLM-L6-v2")
        XCTAssertEqual(json["filters"] as? [String], ["32015", "fletcher32", "shuffle"])
    }
}
