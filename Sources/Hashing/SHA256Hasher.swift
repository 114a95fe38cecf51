import Crypto
import Foundation

/// Incremental SHA-256, from swift-crypto (BoringSSL's implementation on Linux, CryptoKit's on
/// Apple platforms). Feed bytes with `update`, read the digest with `finalize`; finalising does not
/// consume the hasher, so more bytes may follow.
public struct SHA256Hasher {
    var hash = SHA256()

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hash.update(bufferPointer: bytes)
    }

    public mutating func update(_ data: Data) {
        hash.update(data: data)
    }

    public mutating func update(_ string: String) {
        var string = string
        string.withUTF8 { update(UnsafeRawBufferPointer($0)) }
    }

    /// The 32-byte digest of everything fed so far.
    public func finalize() -> [UInt8] {
        Array(hash.finalize())
    }

    /// The digest as 64 lowercase hex digits.
    public func hexDigest() -> String {
        hash.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
