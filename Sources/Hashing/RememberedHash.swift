import Foundation

/// File hashes remembered for the life of the process, keyed by path, size and modification
/// time: a group of students, or every stage of a study, hashes a teacher's weights once.
public enum RememberedHash {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var known: [String: String] = [:]

    /// `ContentHash.file(at:)`, computed once per unchanged file.
    public static func file(at url: URL) throws -> String {
        let attributes = try? FileManager.default.attributesOfItem(atPath: url.path)
        let key = "\(url.standardizedFileURL.path)|\(attributes?[.size] ?? 0)|\((attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
        lock.lock()
        if let hash = known[key] { lock.unlock(); return hash }
        lock.unlock()
        let hash = try ContentHash.file(at: url)
        lock.lock(); known[key] = hash; lock.unlock()
        return hash
    }
}
