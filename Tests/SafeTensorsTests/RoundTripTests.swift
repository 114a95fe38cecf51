import Foundation
import XCTest
@testable import SafeTensors

/// Writer → file → reader.
final class RoundTripTests: XCTestCase {
    func testAllWritableDTypesRoundTrip() throws {
        let url = try makeTemporaryDirectory(self).appendingPathComponent("model.safetensors")
        let matrix: [Float] = (0..<12).map { Float($0) * 0.25 - 1.5 }
        // Exactly representable in float16 and bfloat16, so the round trip is lossless.
        let halves: [Float] = [0, -0.0, 1, -2.5, 0.0009765625, 0x1p-24, .infinity, -.infinity]
        let integers: [Int64] = [.min, -1, 0, 1, .max]

        var writer = SafeTensorsWriter(metadata: ["format": "pt", "origin": "test"])
        try writer.add("encoder.weight", shape: [3, 4], floats: matrix)
        try writer.add("half", shape: [2, 4], floats: halves, as: .f16)
        try writer.add("brain", shape: [8], floats: halves, as: .bf16)
        try writer.add("ids", shape: [5], int64s: integers)
        try writer.add("scalar", shape: [], floats: [7.25])
        try writer.add("scalar.ids", shape: [], int64s: [-3])
        try writer.add("empty", shape: [0], floats: [], as: .f16)
        try writer.add("empty.matrix", shape: [4, 0], floats: [])
        try writer.add("empty.ids", shape: [0], int64s: [])
        try writer.write(to: url)

        let file = try SafeTensorsFile(url: url)
        XCTAssertEqual(file.metadata, ["format": "pt", "origin": "test"])
        XCTAssertEqual(file.names, ["brain", "empty", "empty.ids", "empty.matrix", "encoder.weight", "half", "ids", "scalar", "scalar.ids"])
        XCTAssertEqual(file.tensors["encoder.weight"]?.dtype, .f32)
        XCTAssertEqual(file.tensors["encoder.weight"]?.shape, [3, 4])
        XCTAssertEqual(file.tensors["half"]?.dtype, .f16)
        XCTAssertEqual(file.tensors["half"]?.byteRange.count, 16)
        XCTAssertEqual(file.tensors["brain"]?.dtype, .bf16)
        XCTAssertEqual(file.tensors["scalar"]?.shape, [])
        XCTAssertEqual(file.tensors["empty.matrix"]?.shape, [4, 0])

        assertSameBits(try file.floats("encoder.weight", shape: [3, 4]), matrix, "f32")
        assertSameBits(try file.floats("half"), halves, "f16")
        assertSameBits(try file.floats("brain"), halves, "bf16")
        XCTAssertEqual(try file.int64s("ids"), integers)
        XCTAssertEqual(try file.floats("scalar", shape: []), [7.25])
        XCTAssertEqual(try file.int64s("scalar.ids"), [-3])
        XCTAssertEqual(try file.floats("empty"), [])
        XCTAssertEqual(try file.floats("empty.matrix", shape: [4, 0]), [])
        XCTAssertEqual(try file.int64s("empty.ids"), [])
    }

    func testNarrowingRoundsToNearestEven() throws {
        let url = try makeTemporaryDirectory(self).appendingPathComponent("rounded.safetensors")
        // 1 + 2^-11 is a float16 tie (→ 1), 1 + 3·2^-11 too (→ 1 + 2^-9); 1 + 2^-8 a bfloat16 tie.
        let values: [Float] = [1 + 0x1p-11, 1 + 3 * 0x1p-11, 1 + 0x1p-8, 70000, 0.1]
        var writer = SafeTensorsWriter()
        try writer.add("h", shape: [5], floats: values, as: .f16)
        try writer.add("b", shape: [5], floats: values, as: .bf16)
        try writer.write(to: url)
        let file = try SafeTensorsFile(url: url)
        assertSameBits(try file.floats("h"), [1, 1 + 0x1p-9, 1 + 0x1p-8, .infinity, 0.0999755859375], "f16")
        assertSameBits(try file.floats("b"), [1, 1, 1, 70144, 0.10009765625], "bf16")
    }

    func testHeaderLayoutIsPaddedAndDeterministic() throws {
        let directory = try makeTemporaryDirectory(self)
        func build() throws -> SafeTensorsWriter {
            var writer = SafeTensorsWriter(metadata: ["b": "2", "a": "1"])
            try writer.add("z", shape: [1], floats: [1], as: .f16)
            try writer.add("y", shape: [1], floats: [2])
            try writer.add("x", shape: [1], int64s: [3])
            try writer.add("w", shape: [1], floats: [4])
            return writer
        }
        let first = directory.appendingPathComponent("1.safetensors"), second = directory.appendingPathComponent("2.safetensors")
        try build().write(to: first)
        try build().write(to: second)
        let bytes = try Data(contentsOf: first)
        XCTAssertEqual(bytes, try Data(contentsOf: second), "same tensors, same bytes")

        let length = Int(bytes.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
        XCTAssertEqual(length % 8, 0, "header padded to a multiple of 8")
        let header = String(decoding: bytes[8..<(8 + length)], as: UTF8.self)
        // Reference order: I64, then F32 by name, then F16; metadata keys sorted; space padding.
        let expected = #"{"__metadata__":{"a":"1","b":"2"},"x":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"#
            + #""w":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"y":{"dtype":"F32","shape":[1],"data_offsets":[12,16]},"#
            + #""z":{"dtype":"F16","shape":[1],"data_offsets":[16,18]}}"#
        XCTAssertEqual(header.trimmingCharacters(in: .init(charactersIn: " ")), expected)
        XCTAssertTrue(header.hasPrefix(expected) && header.dropFirst(expected.count).allSatisfy { $0 == " " })
        XCTAssertEqual(bytes.count, 8 + length + 18)
    }

    func testNamesNeedingEscapesRoundTrip() throws {
        let url = try makeTemporaryDirectory(self).appendingPathComponent("names.safetensors")
        let names = ["quote\"back\\slash", "new\nline\ttab\u{01}", "naïve/日本語/🙂", ""]
        var writer = SafeTensorsWriter(metadata: ["note": "\"é\"\n"])
        for (i, name) in names.enumerated() { try writer.add(name, shape: [1], floats: [Float(i)]) }
        try writer.write(to: url)
        let file = try SafeTensorsFile(url: url)
        XCTAssertEqual(file.names, names.sorted())
        XCTAssertEqual(file.metadata, ["note": "\"é\"\n"])
        for (i, name) in names.enumerated() { XCTAssertEqual(try file.floats(name), [Float(i)], name) }
    }

    func testWriteReplacesAtomicallyAndLeavesNoTemporaryFiles() throws {
        let directory = try makeTemporaryDirectory(self)
        let url = directory.appendingPathComponent("model.safetensors")
        try Data("old contents".utf8).write(to: url)
        var writer = SafeTensorsWriter()
        try writer.add("t", shape: [2], floats: [1, 2])
        try writer.write(to: url)
        XCTAssertEqual(try SafeTensorsFile(url: url).floats("t"), [1, 2])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["model.safetensors"])
    }

    func testWriteIntoMissingFolderNamesTheFile() throws {
        let url = try makeTemporaryDirectory(self).appendingPathComponent("no/such/folder/model.safetensors")
        assertSafeTensorsError(try SafeTensorsWriter().write(to: url), mentions: [url.path]) {
            if case .writeFailed = $0 { return true } else { return false }
        }
    }

    func testWriterRejectsInconsistentTensors() throws {
        var writer = SafeTensorsWriter()
        try writer.add("a", shape: [2], floats: [1, 2])
        let isInvalid: (SafeTensorsError) -> Bool = { if case .invalidTensor = $0 { return true } else { return false } }
        assertSafeTensorsError(try writer.add("a", shape: [1], floats: [1]), mentions: ["'a'", "twice"], matches: isInvalid)
        assertSafeTensorsError(try writer.add("b", shape: [2, 2], floats: [1, 2, 3]), mentions: ["'b'", "[2, 2]", "4", "3"], matches: isInvalid)
        assertSafeTensorsError(try writer.add("c", shape: [-1], int64s: []), mentions: ["'c'", "negative"], matches: isInvalid)
        assertSafeTensorsError(try writer.add("d", shape: [1], floats: [1], as: .i32), mentions: ["'d'", "I32"], matches: isInvalid)
        assertSafeTensorsError(try writer.add("e", shape: [Int.max, 4], floats: []), mentions: ["'e'", "too large"], matches: isInvalid)
        assertSafeTensorsError(try writer.add("__metadata__", shape: [], floats: [1]), mentions: ["reserved"], matches: isInvalid)
    }
}
