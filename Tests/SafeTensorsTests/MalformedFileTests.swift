import Foundation
import XCTest
@testable import SafeTensors

/// Crafted bad files: each must fail with the right error case, naming the file (and the tensor
/// where there is one), never crash or allocate from an unchecked length.
final class MalformedFileTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory(self)
    }

    private func save(_ data: Data, _ name: String = "bad.safetensors") throws -> URL {
        let url = directory.appendingPathComponent(name)
        try data.write(to: url)
        return url
    }

    private let entryA = #""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#

    func testSanityCraftedFileParses() throws {
        let url = try save(craftedFile(header: "{\(entryA)}", data: Array(repeating: 0, count: 8)))
        XCTAssertEqual(try SafeTensorsFile(url: url).floats("a"), [0, 0])
    }

    func testMissingFile() throws {
        let url = directory.appendingPathComponent("absent.safetensors")
        assertSafeTensorsError(try SafeTensorsFile(url: url), mentions: [url.path]) {
            if case .unreadable = $0 { return true } else { return false }
        }
    }

    func testFileShorterThanLengthField() throws {
        let url = try save(Data([1, 0, 0, 0, 0]))
        assertSafeTensorsError(try SafeTensorsFile(url: url), mentions: [url.path, "5 bytes"]) {
            $0 == .tooShort(file: url.path, size: 5)
        }
    }

    func testEmptyFile() throws {
        let url = try save(Data())
        assertSafeTensorsError(try SafeTensorsFile(url: url), mentions: [url.path]) { $0 == .tooShort(file: url.path, size: 0) }
    }

    func testHeaderLengthPastEndOfFile() throws {
        // A valid file cut inside its header.
        let whole = craftedFile(header: "{\(entryA)}", data: Array(repeating: 0, count: 8))
        let url = try save(whole.prefix(30))
        assertSafeTensorsError(try SafeTensorsFile(url: url), mentions: [url.path, "30-byte", "truncated"]) {
            if case .headerPastEnd(url.path, _, 30) = $0 { return true } else { return false }
        }
    }

    func testAbsurdHeaderLengthIsRejectedBeforeAllocating() throws {
        let url = try save(craftedFile(header: "{}", length: UInt64.max))
        assertSafeTensorsError(try SafeTensorsFile(url: url), mentions: [url.path, "\(UInt64.max)", "limit"]) {
            if case .headerTooLarge = $0 { return true } else { return false }
        }
    }

    func testGarbageJSON() throws {
        let url = try save(craftedFile(header: #"{"a": {"dtype": "F32", "shape": [2"#))
        assertSafeTensorsError(try SafeTensorsFile(url: url), mentions: [url.path, "not valid JSON"]) {
            if case .invalidHeader = $0 { return true } else { return false }
        }
    }

    func testTextAfterTheJSONObject() throws {
        let url = try save(craftedFile(header: "{} x"))
        assertSafeTensorsError(try SafeTensorsFile(url: url), mentions: [url.path, "after the JSON value"]) {
            if case .invalidHeader = $0 { return true } else { return false }
        }
    }

    func testHeaderNotUTF8() throws {
        var header = Array(#"{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}"#.utf8)
        header[2] = 0xFF  // inside the key "a"
        let url = try save(craftedFile(headerBytes: header))
        assertSafeTensorsError(try SafeTensorsFile(url: url), mentions: [url.path, "UTF-8"]) {
            if case .invalidHeader = $0 { return true } else { return false }
        }
    }

    func testHeaderNotAnObject() throws {
        let url = try save(craftedFile(header: "[1, 2]"))
        assertSafeTensorsError(try SafeTensorsFile(url: url), mentions: [url.path, "found an array"]) {
            if case .invalidHeader = $0 { return true } else { return false }
        }
    }

    func testMetadataValuesMustBeStrings() throws {
        let url = try save(craftedFile(header: #"{"__metadata__":{"epoch":3}}"#))
        assertSafeTensorsError(try SafeTensorsFile(url: url), mentions: [url.path, "'epoch'", "must be a string"]) {
            if case .invalidHeader = $0 { return true } else { return false }
        }
    }

    /// A key given twice anywhere is refused by name and byte offset: a tensor name, a metadata key,
    /// an entry's field, even inside a field this reader ignores (readers differ on which value counts).
    func testDuplicateKeysAnywhere() throws {
        let cases: [(header: String, key: String, offset: Int)] = [
            ("{\(entryA),\(entryA)}", "a", 2 + entryA.utf8.count),
            (#"{"__metadata__":{"k":"1","k":"2"}}"#, "k", 25),
            (#"{"w":{"dtype":"F32","shape":[0],"data_offsets":[0,0],"shape":[1]}}"#, "shape", 53),
            (#"{"w":{"dtype":"F32","shape":[0],"data_offsets":[0,0],"extra":{"x":1,"x":2}}}"#, "x", 68),
        ]
        for (header, key, offset) in cases {
            let url = try save(craftedFile(header: header, data: header.hasPrefix("{\"a\"") ? Array(repeating: 0, count: 8) : []))
            assertSafeTensorsError(try SafeTensorsFile(url: url), mentions: [url.path, "at byte \(offset): duplicate key \"\(key)\""]) {
                if case .invalidHeader = $0 { return true } else { return false }
            }
        }
    }

    func testEntryMissingFields() throws {
        let cases = [
            (#"{"shape":[0],"data_offsets":[0,0]}"#, "missing 'dtype'"),
            (#"{"dtype":"F32","data_offsets":[0,0]}"#, "missing 'shape'"),
            (#"{"dtype":"F32","shape":[0]}"#, "missing 'data_offsets'"),
            ("[]", "expected an object"),
        ]
        for (entry, reason) in cases {
            let url = try save(craftedFile(header: #"{"w":"# + entry + "}"))
            assertSafeTensorsError(try SafeTensorsFile(url: url), mentions: [url.path, "'w'", reason]) {
                if case .invalidEntry(url.path, "w", _) = $0 { return true } else { return false }
            }
        }
    }

    func testEntryFieldsOfWrongType() throws {
        let cases = [
            (#"{"dtype":32,"shape":[0],"data_offsets":[0,0]}"#, "'dtype' must be a string"),
            (#"{"dtype":"F32","shape":"2","data_offsets":[0,8]}"#, "'shape' must be an array"),
            (#"{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}"#, "non-negative integers, found 2.0"),
            (#"{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}"#, "non-negative integers, found -2"),
            (#"{"dtype":"F32","shape":[2],"data_offsets":[0]}"#, "array of two integers"),
            (#"{"dtype":"F32","shape":[2],"data_offsets":[0,8e0]}"#, "'data_offsets' must be non-negative integers"),
            (#"{"dtype":"F32","shape":[2],"data_offsets":[0,"8"]}"#, "'data_offsets' must be non-negative integers"),
            (#"{"dtype":"F32","shape":[2],"data_offsets":[8,0]}"#, "begin after end"),
            // Larger than any Int: not an integer we can use, rather than silently wrapped.
            (#"{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551616]}"#, "18446744073709551616"),
        ]
        for (entry, reason) in cases {
            let url = try save(craftedFile(header: #"{"w":"# + entry + "}", data: Array(repeating: 0, count: 8)))
            assertSafeTensorsError(try SafeTensorsFile(url: url), mentions: [url.path, "'w'", reason]) {
                if case .invalidEntry(url.path, "w", _) = $0 { return true } else { return false }
            }
        }
    }

    func testUnknownDType() throws {
        let url = try save(craftedFile(header: #"{"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}"#, data: [0]))
        assertSafeTensorsError(try SafeTensorsFile(url: url), mentions: [url.path, "'w'", "F8_E4M3", "BF16"]) {
            $0 == .unknownDType(file: url.path, key: "w", dtype: "F8_E4M3")
        }
    }

    func testOverflowingShape() throws {
        let url = try save(craftedFile(header: #"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}"#))
        assertSafeTensorsError(try SafeTensorsFile(url: url), mentions: [url.path, "'w'", "too large"]) {
            if case .invalidEntry(url.path, "w", _) = $0 { return true } else { return false }
        }
    }

    func testTruncatedData() throws {
        // A real file from the writer, cut short inside its last tensor.
        var writer = SafeTensorsWriter()
        try writer.add("first", shape: [4], floats: [1, 2, 3, 4])
        try writer.add("second", shape: [4], floats: [5, 6, 7, 8])
        let whole = directory.appendingPathComponent("whole.safetensors")
        try writer.write(to: whole)
        let bytes = try Data(contentsOf: whole)
        let url = try save(bytes.prefix(bytes.count - 3))
        assertSafeTensorsError(try SafeTensorsFile(url: url), mentions: [url.path, "'second'", "[16, 32]", "29-byte", "truncated"]) {
            $0 == .offsetsOutOfBounds(file: url.path, key: "second", begin: 16, end: 32, dataSize: 29)
        }
    }

    func testOffsetsBeyondData() throws {
        let url = try save(craftedFile(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[1000,1008]}}"#, data: Array(repeating: 0, count: 8)))
        assertSafeTensorsError(try SafeTensorsFile(url: url), mentions: [url.path, "'w'", "[1000, 1008]", "8-byte"]) {
            if case .offsetsOutOfBounds = $0 { return true } else { return false }
        }
    }

    func testByteLengthDisagreesWithShape() throws {
        let url = try save(craftedFile(header: #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8)))
        assertSafeTensorsError(try SafeTensorsFile(url: url), mentions: [url.path, "'w'", "[3]", "12 bytes", "span 8"]) {
            $0 == .byteLengthMismatch(file: url.path, key: "w", dtype: .f32, shape: [3], expected: 12, actual: 8)
        }
    }

    func testOverlappingTensors() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        let url = try save(craftedFile(header: header, data: Array(repeating: 0, count: 12)))
        assertSafeTensorsError(try SafeTensorsFile(url: url), mentions: [url.path, "'b'", "overlap", "'a'"]) {
            if case .invalidLayout(url.path, "b", _) = $0 { return true } else { return false }
        }
    }

    func testGapBetweenTensors() throws {
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        let url = try save(craftedFile(header: header, data: Array(repeating: 0, count: 12)))
        assertSafeTensorsError(try SafeTensorsFile(url: url), mentions: [url.path, "'b'", "unused bytes 4..<8"]) {
            if case .invalidLayout(url.path, "b", _) = $0 { return true } else { return false }
        }
    }

    func testTrailingBytesAfterLastTensor() throws {
        let url = try save(craftedFile(header: "{\(entryA)}", data: Array(repeating: 0, count: 10)))
        assertSafeTensorsError(try SafeTensorsFile(url: url), mentions: [url.path, "'a'", "2 unused bytes"]) {
            if case .invalidLayout(url.path, "a", _) = $0 { return true } else { return false }
        }
    }

    func testDeepNestingIsAnErrorNotAStackOverflow() throws {
        let url = try save(craftedFile(header: String(repeating: "[", count: 100_000)))
        assertSafeTensorsError(try SafeTensorsFile(url: url), mentions: [url.path, "nested deeper"]) {
            if case .invalidHeader = $0 { return true } else { return false }
        }
    }

    /// Every prefix of a valid file, and copies with bytes flipped, either parse or throw a
    /// SafeTensorsError; decoding whatever parsed stays in bounds.
    func testCorruptedCopiesNeverCrash() throws {
        var writer = SafeTensorsWriter(metadata: ["format": "pt"])
        try writer.add("weight", shape: [2, 3], floats: [1, 2, 3, 4, 5, 6], as: .bf16)
        try writer.add("ids", shape: [3], int64s: [1, 2, 3])
        try writer.add("bias", shape: [3], floats: [0.5, 0.25, 0.125])
        let source = directory.appendingPathComponent("source.safetensors")
        try writer.write(to: source)
        let bytes = [UInt8](try Data(contentsOf: source))
        let url = directory.appendingPathComponent("corrupt.safetensors")

        func attempt(_ data: [UInt8]) throws -> Bool {
            do {
                let file = try SafeTensorsFile(url: url, contents: Data(data))
                for name in file.names { _ = try? file.floats(name); _ = try? file.int64s(name) }
                return true
            } catch is SafeTensorsError {
                return false
            }
        }
        var parsed = 0
        for length in 0..<bytes.count where try attempt(Array(bytes.prefix(length))) { parsed += 1 }
        XCTAssertEqual(parsed, 0, "no proper prefix of the file is valid")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var copy = bytes
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                copy[Int.random(in: 0..<copy.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            _ = try attempt(copy)
        }
        XCTAssertTrue(try attempt(bytes))
    }
}
