import Foundation
import JSON
import XCTest
@testable import SafeTensors

/// Files exchanged with the reference `safetensors` Python package, both directions, through
/// scripts/fixtures/safetensors_check.py. Skipped when python3 lacks safetensors or numpy.
final class InteropTests: XCTestCase {
    /// Swift writes; Python checks values, float16 rounding against numpy, bfloat16 rounding
    /// against torch, and that safetensors re-saves the same tensors to identical bytes.
    func testPythonReadsSwiftFile() throws {
        try Python.requireSafetensors()
        let url = try makeTemporaryDirectory(self).appendingPathComponent("swift.safetensors")

        // The reference table's edge cases, then a stride through all 2^32 float bit patterns.
        var inputs = halfPrecisionReference.map { Float(bitPattern: $0.float) }
        inputs += stride(from: UInt32(0), to: UInt32.max - 4099, by: 4099).map { Float(bitPattern: $0) }

        var writer = SafeTensorsWriter(metadata: ["format": "pt"])
        try writer.add("inputs", shape: [inputs.count], floats: inputs)
        try writer.add("as_f16", shape: [inputs.count], floats: inputs, as: .f16)
        try writer.add("as_bf16", shape: [inputs.count], floats: inputs, as: .bf16)
        try writer.add("i64", shape: [5], int64s: [.min, -1, 0, 1, .max])
        try writer.add("scalar", shape: [], floats: [3.5])
        try writer.add("empty", shape: [0], floats: [], as: .f16)
        try writer.add("matrix", shape: [2, 3], floats: (0..<6).map { Float($0) * 0.5 })
        try writer.add("odd \"name\"\n é", shape: [1], floats: [1])
        try writer.write(to: url)

        let result = try Python.run([Python.checkScript.path, "check", url.path])
        print(result.output)
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("OK"), result.output)
    }

    /// Python writes every dtype we read; Swift compares with the values it recorded.
    func testSwiftReadsPythonFile() throws {
        try Python.requireSafetensors()
        let directory = try makeTemporaryDirectory(self)
        let result = try Python.run([Python.checkScript.path, "write", directory.path])
        XCTAssertEqual(result.status, 0, result.output)

        let file = try SafeTensorsFile(url: directory.appendingPathComponent("python.safetensors"))
        let expected = try JSONParser.parse([UInt8](try Data(contentsOf: directory.appendingPathComponent("expected.json"))),
                                            limits: JSONLimits(maxBytes: .max, maxDepth: 64))
        guard let metadata = expected["metadata"]?.object, let entries = expected["tensors"]?.object else {
            return XCTFail("expected.json has no tensors")
        }
        XCTAssertEqual(file.metadata, Dictionary(uniqueKeysWithValues: metadata.members.compactMap { key, value in value.string.map { (key, $0) } }))
        XCTAssertEqual(file.names, entries.keys.sorted())
        XCTAssertGreaterThanOrEqual(entries.count, 12)

        for (name, entry) in entries.members {
            guard let info = file.tensors[name] else { XCTFail("missing \(name)"); continue }
            XCTAssertEqual(info.dtype.rawValue, entry["dtype"]?.string, name)
            XCTAssertEqual(info.shape, entry["shape"]?.integers?.map { Int($0) }, name)
            if let bits = entry["bits"]?.integers {
                let values = try file.floats(name, shape: info.shape)
                let want = bits.map { Float(bitPattern: UInt32($0)) }
                // numpy may quiet signalling NaNs when widening float16; NaN-ness is what matters.
                let nan = want.map(\.isNaN)
                XCTAssertEqual(values.map(\.isNaN), nan, "\(name): NaN positions")
                assertSameBits(zip(values, nan).filter { !$0.1 }.map(\.0), zip(want, nan).filter { !$0.1 }.map(\.0), name)
            } else {
                XCTAssertEqual(try file.int64s(name), entry["ints"]?.integers, name)
            }
        }
        XCTAssertEqual(try file.floats("f16_all").count, 65536)
    }
}

/// Lookups for reading expected.json in tests.
private extension JSONValue {
    subscript(key: String) -> JSONValue? { object?[key] }

    /// Array of integer literals; Int64 covers both the int64 extremes and uint32 bit patterns.
    var integers: [Int64]? {
        guard let items = array else { return nil }
        let values = items.compactMap { item -> Int64? in item.number.flatMap { $0.isInteger ? Int64($0.text) : nil } }
        return values.count == items.count ? values : nil
    }
}
