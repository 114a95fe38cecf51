import Foundation

/// Provenance hashes, written as "sha256:<64 hex digits>" so the algorithm
/// travels with the value in caches and run records.
public enum ContentHash {
    // Large reads keep the system-call count low on multi-gigabyte weight files.
    static let fileBlockSize = 4 << 20

    /// The hash of a file's bytes, read in 4 MiB blocks so memory stays flat.
    public static func file(at url: URL) throws -> String {
        // Checked first because Foundation's message for it is vague on Linux.
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ContentHashError(path: url.path, reason: "no such file")
        }
        let handle: FileHandle
        do {
            handle = try FileHandle(forReadingFrom: url)
        } catch {
            throw ContentHashError(path: url.path, reason: "cannot open: \(error.localizedDescription)")
        }
        defer { try? handle.close() }
        var hasher = SHA256Hasher()
        while true {
            let block: Data?
            do {
                block = try handle.read(upToCount: fileBlockSize)
            } catch {
                throw ContentHashError(path: url.path, reason: "read failed: \(error.localizedDescription)")
            }
            guard let block, !block.isEmpty else { break }
            hasher.update(block)
        }
        return format(hasher)
    }

    /// The hash of bytes already in memory; equals `file(at:)` for a file with these bytes.
    public static func data(_ data: Data) -> String {
        var hasher = SHA256Hasher()
        hasher.update(data)
        return format(hasher)
    }

    /// The hash of the values as little-endian IEEE 754 binary32, so it is the
    /// same on every machine and equals the hash of a raw float32 dump.
    public static func floats(_ values: [Float]) -> String {
        var hasher = SHA256Hasher()
        #if _endian(little)
        values.withUnsafeBytes { hasher.update($0) }
        #else
        values.map { $0.bitPattern.littleEndian }.withUnsafeBytes { hasher.update($0) }
        #endif
        return format(hasher)
    }

    static func format(_ hasher: SHA256Hasher) -> String {
        "sha256:" + hasher.hexDigest()
    }
}

/// A file that could not be hashed, with its path.
public struct ContentHashError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String

    public var description: String { "\(path): \(reason)" }
}
