import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive advisory lock on `<path>.lock`, so two writers never share a cache path.
final class FileLock {
    private var descriptor: Int32
    let url: URL

    init(for target: URL) throws {
        url = target.deletingLastPathComponent().appendingPathComponent(target.lastPathComponent + ".lock")
        descriptor = open(url.path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw CacheError.io("cannot create lock file \(url.path): \(String(cString: strerror(errno)))")
        }
        // The holder unlinks the lock file before unlocking it, so a lock won on a file that is
        // no longer at the path (or was replaced) guards nothing: only the file at the path counts.
        var held = stat(), current = stat()
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 || fstat(descriptor, &held) != 0 || stat(url.path, &current) != 0
            || held.st_ino != current.st_ino || held.st_dev != current.st_dev {
            close(descriptor)
            descriptor = -1
            throw CacheError.io("another process is writing \(target.path) (lock \(url.path) is held)")
        }
    }

    func release() {
        guard descriptor >= 0 else { return }
        unlink(url.path)
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }
}
