import Foundation
import HDF5

/// Opening a finished cache file, the same way for the reader, `inspect` and `merge`.
enum CacheFile {
    /// The error for a cache file that is not there: still being written (its `.partial` exists) or absent.
    static func missing(_ url: URL, what: String) -> CacheError {
        if FileManager.default.fileExists(atPath: CacheWriter.partialURL(for: url).path) {
            return .incomplete("\(url.path) is still being written or was interrupted (\(CacheWriter.partialURL(for: url).lastPathComponent) exists; finish it with --resume)")
        }
        return .io("no such \(what): \(url.path)")
    }

    /// Opens `url` read-only, refusing an HDF5 file of another kind (no schema version attribute).
    static func open(_ url: URL) throws -> (file: H5File, root: H5Group) {
        let file: H5File
        do { file = try H5File.open(url) } catch { throw CacheError.notACache("\(url.path): \(error)") }
        let root = try file.root
        guard try root.hasAttribute(CacheLayout.schemaVersionAttribute) else {
            try? file.close()
            throw CacheError.notACache("\(url.path) is an HDF5 file without the '\(CacheLayout.schemaVersionAttribute)' attribute")
        }
        return (file, root)
    }
}
