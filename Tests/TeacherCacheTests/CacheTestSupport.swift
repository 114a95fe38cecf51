import Datasets
import Foundation
import Logging
import XCTest
@testable import TeacherCache

enum CacheFixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let bert = packageRoot.appendingPathComponent("Tests/Fixtures/bert")
    static func teacher(_ kind: String) -> URL { bert.appendingPathComponent("tiny-\(kind)") }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("distillery-cache-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A labelled JSON Lines file of `rows` short sentences over the tiny vocabulary.
    static func dataFile(in folder: URL, rows: Int, name: String = "train.jsonl") throws -> URL {
        let words = ["the", "cat", "sat", "on", "a", "mat", "dog", "movie", "was", "very", "good", "bad", "not", "great", "film"]
        var lines: [String] = []
        for i in 0..<rows {
            // Deterministic lengths 1…24 words, so sequences of many lengths share batches.
            let count = 1 + (i * 7) % 24
            let text = (0..<count).map { words[($0 * 3 + i) % words.count] }.joined(separator: " ")
            let label = ["negative", "neutral", "positive"][i % 3]
            lines.append(#"{"id": "ex\#(i)", "text": "\#(text).", "label": "\#(label)"}"#)
        }
        let url = folder.appendingPathComponent(name)
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    static var readOptions: DatasetReadOptions {
        var options = DatasetReadOptions()
        options.fields = DatasetFields(text: "text", textPair: nil, label: "label", id: "id")
        return options
    }

    @discardableResult
    static func build(teacher: String, data: URL, spec: CacheSpec, out: URL, resume: Bool = false) throws -> CacheSummary {
        var request = CacheRequest(teacher: self.teacher(teacher), data: [data], readOptions: readOptions, spec: spec, output: out)
        request.resume = resume
        return try CacheBuilder.build(request, logger: Logger(label: "test"))
    }

    /// The built `distillery` executable (for kill -9 style tests).
    static var executable: URL {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("distillery").path) && dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("distillery")
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

func XCTAssertThrowsMessage(_ expression: @autoclosure () throws -> Any, contains parts: [String], file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try expression(), file: file, line: line) { error in
        let message = "\(error)"
        for part in parts { XCTAssertTrue(message.contains(part), "'\(message)' should mention '\(part)'", file: file, line: line) }
    }
}
