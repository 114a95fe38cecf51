import Datasets
import Foundation
import Logging
import TestSupport
import XCTest
@testable import TeacherCache

enum CacheFixtures {
    static let packageRoot = TestSupport.packageRoot
    static let bert = packageRoot.appendingPathComponent("Tests/Fixtures/bert")
    static func teacher(_ kind: String) -> URL { bert.appendingPathComponent("tiny-\(kind)") }

    static func temporaryDirectory() throws -> URL { try makeTemporaryDirectory("distillery-cache-tests") }

    static func dataFile(in folder: URL, rows: Int, name: String = "train.jsonl") throws -> URL {
        try writeLabelledSentences(in: folder, rows: rows, name: name)
    }

    static var readOptions: DatasetReadOptions {
        var options = DatasetReadOptions()
        options.fields = DatasetFields(text: "text", textPair: nil, label: "label", id: "id")
        return options
    }

    @discardableResult
    static func build(teacher: String, data: URL, spec: CacheSpec, out: URL, resume: Bool = false, shard: ShardSelection? = nil) throws -> CacheSummary {
        var request = CacheRequest(teacher: self.teacher(teacher), data: [data], readOptions: readOptions, spec: spec, output: out)
        request.resume = resume
        request.shard = shard
        return try CacheBuilder.build(request, logger: Logger(label: "test"))
    }
}

func XCTAssertThrowsMessage(_ expression: @autoclosure () throws -> Any, contains parts: [String], file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try expression(), file: file, line: line) { error in
        let message = "\(error)"
        for part in parts { XCTAssertTrue(message.contains(part), "'\(message)' should mention '\(part)'", file: file, line: line) }
    }
}
