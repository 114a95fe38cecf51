import CHDF5
import Foundation

/// Where HDF5 programs (h5dump, h5ls, h5py without hdf5plugin) look for filter plugins, and
/// whether the zstd plugin (libh5zstd.so, `make plugin`) is there. Without it they print an
/// empty `DATA {}` for compressed datasets and exit 0.
public enum H5Plugins {
    public static let zstdLibrary = "libh5zstd.so"

    /// HDF5's plugin search path in this process: `$HDF5_PLUGIN_PATH` when set (it replaces the
    /// default in 1.10), else the library's built-in folder.
    public static func searchPath() -> [String] {
        H5Library.quiet()
        var count: UInt32 = 0
        guard H5PLsize(&count) >= 0 else { return [] }
        return (0..<count).compactMap { index in
            var buffer = [CChar](repeating: 0, count: 4096)
            guard H5PLget(index, &buffer, buffer.count) > 0 else { return nil }
            return String(cString: buffer)
        }
    }

    /// The folder of the search path that holds the zstd plugin, if one does.
    public static func zstdFolder() -> String? {
        searchPath().first { FileManager.default.fileExists(atPath: URL(fileURLWithPath: $0).appendingPathComponent(zstdLibrary).path) }
    }
}
