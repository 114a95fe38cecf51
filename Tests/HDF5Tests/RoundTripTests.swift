import Foundation
import HDF5
import TestSupport
import XCTest

/// Create → append → close → reopen → read, for every element type, groups and attributes.
final class RoundTripTests: XCTestCase {
    /// Appends `values` in blocks to a fresh dataset, reopens the file, returns what reads back.
    private func roundTrip<T: H5Scalar, R: H5Scalar>(_ values: [T], as type: H5ElementType, columns: Int,
                                                     reading: R.Type, options: H5DatasetOptions = H5DatasetOptions(chunkRows: 5)) throws -> [R] {
        let folder = try TemporaryFolder()
        let url = folder.file("t.h5")
        let file = try H5File.create(url)
        let dataset = try file.root.createDataset("data", type: type, columns: columns, options: options)
        let width = max(columns, 1)
        // Three appends of different sizes: 3 rows, 0 rows, the rest.
        try dataset.append(Array(values.prefix(3 * width)))
        try dataset.append([T]())
        try dataset.append(Array(values.dropFirst(3 * width)))
        XCTAssertEqual(dataset.rows, values.count / width)
        try file.close()

        let reopened = try H5File.open(url)
        let back = try reopened.root.dataset("data")
        XCTAssertEqual(back.elementType, type)
        XCTAssertEqual(back.rows, values.count / width)
        XCTAssertEqual(back.columns, width)
        XCTAssertEqual(back.rank, columns == 0 ? 1 : 2)
        XCTAssertEqual(back.chunkRows, options.chunkRows)
        let all = try back.read(R.self, rows: 0..<back.rows)
        // A row range in the middle, across a chunk boundary, matches the same slice.
        let middle = try back.read(R.self, rows: 4..<7)
        XCTAssertEqual(middle.count, 3 * width)
        for i in 0..<middle.count {
            XCTAssertEqual("\(middle[i])", "\(all[4 * width + i])", "row slice element \(i)")
        }
        return all
    }

    func testIntegerTypesRoundTripExactly() throws {
        XCTAssertEqual(try roundTrip((0..<36).map { Int8($0 * 7 - 128) }, as: .int8, columns: 3, reading: Int8.self),
                       (0..<36).map { Int8($0 * 7 - 128) })
        XCTAssertEqual(try roundTrip((0..<36).map { UInt8($0 * 7) }, as: .uint8, columns: 4, reading: UInt8.self),
                       (0..<36).map { UInt8($0 * 7) })
        XCTAssertEqual(try roundTrip((0..<36).map { Int16($0 * 1800 - 32_000) }, as: .int16, columns: 2, reading: Int16.self),
                       (0..<36).map { Int16($0 * 1800 - 32_000) })
        XCTAssertEqual(try roundTrip((0..<36).map { UInt16($0 * 1800) }, as: .uint16, columns: 0, reading: UInt16.self),
                       (0..<36).map { UInt16($0 * 1800) })
        XCTAssertEqual(try roundTrip((0..<36).map { Int32($0 * 97_000_003 - 1_700_000_000) }, as: .int32, columns: 3, reading: Int32.self),
                       (0..<36).map { Int32($0 * 97_000_003 - 1_700_000_000) })
        XCTAssertEqual(try roundTrip((0..<36).map { UInt32($0) * 119_304_647 }, as: .uint32, columns: 1, reading: UInt32.self),
                       (0..<36).map { UInt32($0) * 119_304_647 })
        let big = (0..<36).map { Int64($0) * 256_204_778_801_521_550 - Int64.max / 2 }
        XCTAssertEqual(try roundTrip(big, as: .int64, columns: 0, reading: Int64.self), big)
    }

    func testFloat32AndFloat64RoundTripExactly() throws {
        var random = SeededRandom(seed: 1)
        let floats = random.floats(48, scale: 1e3) + [0, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        let back = try roundTrip(floats, as: .float32, columns: 6, reading: Float.self)
        XCTAssertEqual(back.map(\.bitPattern), floats.map(\.bitPattern))
        let doubles = floats.map { Double($0) / 3 }
        XCTAssertEqual(try roundTrip(doubles, as: .float64, columns: 3, reading: Double.self).map(\.bitPattern),
                       doubles.map(\.bitPattern))
    }

    /// IEEE half: 11 significant bits, so a relative error of at most 2^-11 for normal values.
    func testFloat16RoundTripsWithinHalfAnUnitInTheLastPlace() throws {
        var random = SeededRandom(seed: 2)
        let values = random.floats(60, scale: 100) + [0.99999, 1.99999, 65504, 1e-6, -3.99325442, 0]
        let back = try roundTrip(values, as: .float16, columns: 3, reading: Float.self)
        assertClose(back, values, tolerance: { max(abs($0) * 0x1p-11, 0x1p-25) }, "float16")
        // The values HDF5 1.10.8's own conversion gets wrong (0.99999 → 0.5) are right here.
        XCTAssertEqual(back[60], 1.0)
        XCTAssertEqual(back[61], 2.0)
        XCTAssertEqual(back[62], 65504)
        XCTAssertEqual(back[64], -3.9941406)  // nearest half to -3.99325442
    }

    /// bfloat16: 8 significant bits, a relative error of at most 2^-8.
    func testBFloat16RoundTripsWithinHalfAnUnitInTheLastPlace() throws {
        var random = SeededRandom(seed: 3)
        let values = random.floats(60, scale: 1e4) + [0.99999, -3.99325442, 3e38, 1e-30, 1, 0]
        let back = try roundTrip(values, as: .bfloat16, columns: 2, reading: Float.self)
        assertClose(back, values, tolerance: { abs($0) * 0x1p-8 }, "bfloat16")
        XCTAssertEqual(back[60], 1.0)
        XCTAssertEqual(back[61], -4.0)  // HDF5 1.10.8's own conversion gives -2
    }

    func testExactWideningConversionsAndRefusedLossyOnes() throws {
        let folder = try TemporaryFolder()
        let file = try H5File.create(folder.file("w.h5"))
        let wide = try file.root.createDataset("ids", type: .int64, columns: 2)
        try wide.append([Int32(-5), 7, Int32.max, Int32.min])  // Int32 → int64: exact, HDF5 converts
        XCTAssertEqual(try wide.read(Int64.self, rows: 0..<2), [-5, 7, Int64(Int32.max), Int64(Int32.min)])
        XCTAssertNotNil(assertH5Error(try wide.read(Int32.self, rows: 0..<1)), "int64 → Int32 would truncate")

        let small = try file.root.createDataset("small", type: .int8, columns: 0)
        try small.append([Int8(-128), 127])
        XCTAssertEqual(try small.read(Float.self, rows: 0..<2), [-128, 127])  // int8 → Float is exact
        XCTAssertEqual(try small.read(Int64.self, rows: 0..<2), [-128, 127])
        let refusal = assertH5Error(try small.append([Float(0.5)]))
        XCTAssertEqual(refusal?.object, "/small")
        XCTAssertTrue(refusal?.reason.contains("without loss") ?? false, "\(String(describing: refusal))")
        XCTAssertNotNil(assertH5Error(try small.append([Int16(3)])), "Int16 → int8 may not fit")
        XCTAssertNotNil(assertH5Error(try wide.append([Int64(1)])), "one value is not a whole row of 2")
        XCTAssertEqual(wide.rows, 2, "failed appends leave the rows as they were")
        XCTAssertNotNil(assertH5Error(try wide.read(Int64.self, rows: 1..<3)), "past the last row")
    }

    func testGroupsNestAndListTheirChildren() throws {
        let folder = try TemporaryFolder()
        let url = folder.file("g.h5")
        let file = try H5File.create(url)
        let root = try file.root
        let teacher = try root.createGroup("teacher/layers")  // makes "teacher" too
        XCTAssertEqual(teacher.path, "/teacher/layers")
        _ = try teacher.createDataset("hidden", type: .float16, columns: 8)
        _ = try root.createDataset("offsets", type: .int64)
        _ = try root.createGroup("b")
        try file.close()

        let reopened = try H5File.open(url)
        let top = try reopened.root
        XCTAssertEqual(try top.childNames, ["b", "offsets", "teacher"])
        XCTAssertEqual(try top.kind(of: "teacher"), .group)
        XCTAssertEqual(try top.kind(of: "offsets"), .dataset)
        XCTAssertEqual(try top.kind(of: "teacher/layers/hidden"), .dataset)
        XCTAssertNil(try top.kind(of: "missing/deeper"))
        XCTAssertTrue(try top.hasChild("teacher/layers"))
        XCTAssertFalse(try top.hasChild("teacher/nope"))
        let layers = try top.group("teacher").group("layers")
        XCTAssertEqual(try layers.childNames, ["hidden"])
        let hidden = try layers.dataset("hidden")
        XCTAssertEqual(hidden.path, "/teacher/layers/hidden")
        XCTAssertEqual(hidden.columns, 8)
        XCTAssertEqual(hidden.rows, 0)
        XCTAssertEqual(try top.dataset("/teacher/layers/hidden").elementType, .float16)
        let wrongKind = assertH5Error(try top.group("offsets"))
        XCTAssertEqual(wrongKind?.object, "/")
        XCTAssertTrue(wrongKind?.operation.contains("offsets") ?? false)
    }

    func testAttributesRoundTrip() throws {
        let folder = try TemporaryFolder()
        let url = folder.file("a.h5")
        let file = try H5File.create(url)
        let root = try file.root
        let config = "{\"model\": \"all-MiniLM-L6-v2\", \"note\": \"naïve → ünïcode\"}"
        try root.setAttribute("config", config)
        try root.setAttribute("empty", "")
        try root.setAttribute("count", Int64(-42))
        try root.setAttribute("layers", 6)
        try root.setAttribute("temperature", 2.5)
        try root.setAttribute("shape", [Int64(3), 384, -1])
        try root.setAttribute("scales", [0.5, 1e-300])
        try root.setAttribute("floats", [Float(0.1), 3])
        try root.setAttribute("none", [Int64]())
        try root.setAttribute("count", Int64(43))  // replaces
        let big = String(repeating: "x", count: 100_000)  // beyond the 64 KiB compact limit
        let dataset = try root.createDataset("d", type: .float32, columns: 2)
        try dataset.setAttribute("description", big)
        try file.close()

        let reopened = try H5File.open(url)
        let top = try reopened.root
        XCTAssertEqual(try top.stringAttribute("config"), config)
        XCTAssertEqual(try top.stringAttribute("empty"), "")
        XCTAssertEqual(try top.int64Attribute("count"), 43)
        XCTAssertEqual(try top.int64Attribute("layers"), 6)
        XCTAssertEqual(try top.doubleAttribute("temperature"), 2.5)
        XCTAssertEqual(try top.doubleAttribute("layers"), 6.0)  // int64 → Double converts
        XCTAssertEqual(try top.int64ArrayAttribute("shape"), [3, 384, -1])
        XCTAssertEqual(try top.doubleArrayAttribute("scales"), [0.5, 1e-300])
        XCTAssertEqual(try top.floatArrayAttribute("floats"), [0.1, 3])
        XCTAssertEqual(try top.int64ArrayAttribute("none"), [])
        XCTAssertEqual(try top.attributeNames, ["config", "count", "empty", "floats", "layers", "none", "scales", "shape", "temperature"])
        XCTAssertTrue(try top.hasAttribute("config"))
        XCTAssertFalse(try top.hasAttribute("nope"))
        XCTAssertEqual(try top.dataset("d").stringAttribute("description"), big)
        XCTAssertNotNil(assertH5Error(try top.int64Attribute("temperature")), "a real is not read as an integer")
        XCTAssertNotNil(assertH5Error(try top.int64Attribute("shape")), "three values are not one")
        XCTAssertNotNil(assertH5Error(try top.stringAttribute("count")), "not a string")
        let missing = assertH5Error(try top.stringAttribute("nope"))
        XCTAssertEqual(missing?.file, url.path)
        XCTAssertFalse(missing?.hdf5Stack.isEmpty ?? true, "HDF5's stack is kept")
    }

    func testClosingTheFileClosesItsObjects() throws {
        let folder = try TemporaryFolder()
        let url = folder.file("c.h5")
        let file = try H5File.create(url)
        let dataset = try file.root.createDataset("x", type: .float32, columns: 0)
        try dataset.append([Float(1), 2, 3])
        try file.close()
        try file.close()  // twice is fine
        XCTAssertFalse(file.isOpen)
        let closed = assertH5Error(try dataset.append([Float(4)]))
        XCTAssertEqual(closed?.reason, "the file is closed")
        // The file really is closed: it can be reopened for writing in the same process.
        let again = try H5File.open(url, writable: true)
        let x = try again.root.dataset("x")
        try x.append([Float(4)])
        XCTAssertEqual(try x.read(Float.self, rows: 0..<4), [1, 2, 3, 4])
        try again.close()
        let readOnly = try H5File.open(url)
        XCTAssertEqual(assertH5Error(try readOnly.root.dataset("x").append([Float(5)]))?.reason, "the file is open read-only")
    }
}
