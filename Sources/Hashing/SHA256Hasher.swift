import Foundation

/// Incremental SHA-256 (FIPS 180-4). Feed bytes with `update`, read the digest
/// with `finalize`; finalising does not consume the hasher, so more bytes may follow.
public struct SHA256Hasher: Sendable {
    var state = SHA256State()
    // Bytes waiting for a full 64-byte block; always fewer than 64.
    var pending: [UInt8] = []
    // Message length so far, in bytes (the padding records it in bits).
    var length: UInt64 = 0

    public init() {
        pending.reserveCapacity(SHA256State.blockSize)
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        length &+= UInt64(bytes.count)
        var rest = bytes
        if !pending.isEmpty {
            let take = min(SHA256State.blockSize - pending.count, rest.count)
            pending.append(contentsOf: rest.prefix(take))
            rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst(take))
            guard pending.count == SHA256State.blockSize else { return }
            pending.withUnsafeBytes { state.compress($0) }
            pending.removeAll(keepingCapacity: true)
        }
        // Whole blocks go straight from the caller's memory, without copying.
        let whole = rest.count - rest.count % SHA256State.blockSize
        if whole > 0 {
            state.compress(UnsafeRawBufferPointer(rebasing: rest.prefix(whole)))
        }
        pending.append(contentsOf: rest.dropFirst(whole))
    }

    public mutating func update(_ data: Data) {
        data.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ string: String) {
        var string = string
        string.withUTF8 { update(UnsafeRawBufferPointer($0)) }
    }

    /// The 32-byte digest of everything fed so far.
    public func finalize() -> [UInt8] {
        var copy = self
        // Padding: 0x80, zeros up to 56 mod 64, then the bit length big-endian.
        let bitLength = length &* 8
        var tail: [UInt8] = [0x80]
        let used = (pending.count + 1) % SHA256State.blockSize
        let zeros = (SHA256State.blockSize + 56 - used) % SHA256State.blockSize
        tail.append(contentsOf: repeatElement(0, count: zeros))
        withUnsafeBytes(of: bitLength.bigEndian) { tail.append(contentsOf: $0) }
        tail.withUnsafeBytes { copy.update($0) }
        precondition(copy.pending.isEmpty)
        return copy.state.digest()
    }

    /// The digest as 64 lowercase hex digits.
    public func hexDigest() -> String {
        hexString(finalize())
    }
}

func hexString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}
