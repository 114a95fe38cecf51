import Foundation
import XCTest
import Hashing

final class SHA256Tests: XCTestCase {
    // Vectors from FIPS 180-4 examples and NIST's SHA-256 short/long message tests.
    func testKnownVectors() {
        XCTAssertEqual(hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(
            hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    func testOneMillionA() {
        // Fed in uneven pieces so partial-block buffering is exercised too.
        var hasher = SHA256Hasher()
        let chunk = Data(repeating: UInt8(ascii: "a"), count: 997)
        var fed = 0
        while fed < 1_000_000 {
            let n = min(chunk.count, 1_000_000 - fed)
            hasher.update(chunk.prefix(n))
            fed += n
        }
        XCTAssertEqual(hasher.hexDigest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testPaddingBoundaries() {
        // Lengths around 55/56/64 bytes change how many padding blocks there are;
        // byte-at-a-time feeding must match one-shot feeding at each.
        for length in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128] {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            var oneShot = SHA256Hasher()
            oneShot.update(Data(bytes))
            var byByte = SHA256Hasher()
            for byte in bytes { byByte.update(Data([byte])) }
            XCTAssertEqual(oneShot.finalize(), byByte.finalize(), "length \(length)")
            XCTAssertEqual(oneShot.finalize().count, 32)
        }
        // 56 'a's: the known digest pins the two-block padding case.
        XCTAssertEqual(
            hex(String(repeating: "a", count: 56)),
            "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a")
    }

    func testFinalizeDoesNotConsume() {
        var hasher = SHA256Hasher()
        hasher.update("ab")
        _ = hasher.finalize()
        hasher.update("c")
        XCTAssertEqual(hasher.hexDigest(), hex("abc"))
    }

    func testUpdateOverloadsAgree() {
        let text = "naïve café — 東京"
        var fromString = SHA256Hasher()
        fromString.update(text)
        var fromData = SHA256Hasher()
        fromData.update(Data(text.utf8))
        var fromPointer = SHA256Hasher()
        Array(text.utf8).withUnsafeBytes { fromPointer.update($0) }
        XCTAssertEqual(fromString.hexDigest(), fromData.hexDigest())
        XCTAssertEqual(fromString.hexDigest(), fromPointer.hexDigest())
    }

    func testThroughput() {
        // Reported, not asserted: a debug build is far slower than release.
        let data = Data(repeating: 0x5a, count: 32 << 20)
        var hasher = SHA256Hasher()
        let start = Date()
        hasher.update(data)
        let digest = hasher.finalize()
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(digest.count, 32)
        print(String(format: "SHA256Hasher throughput: %.0f MB/s (32 MiB in %.3f s)",
                     Double(data.count) / 1e6 / seconds, seconds))
    }

    private func hex(_ text: String) -> String {
        var hasher = SHA256Hasher()
        hasher.update(text)
        return hasher.hexDigest()
    }
}
