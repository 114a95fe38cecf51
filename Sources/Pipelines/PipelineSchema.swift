import Foundation
import SchemaValidation
import Yams

/// Validation of pipeline files against `schemas/pipeline.schema.json`, before anything is decoded:
/// every invalid field is reported with its path (`students[3].objectives.kd: expected a number`).
enum PipelineSchema {
    /// Where the schema is: $DISTILLERY_SCHEMAS, the source tree this was built from, or next to
    /// the executable's build folder (`.build/release/distillery` → `schemas/`).
    static func location() throws -> URL {
        let fm = FileManager.default
        var candidates: [URL] = []
        if let folder = ProcessInfo.processInfo.environment["DISTILLERY_SCHEMAS"] { candidates.append(URL(fileURLWithPath: folder)) }
        candidates.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("schemas"))
        if let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            var folder = executable.deletingLastPathComponent()
            for _ in 0..<4 {
                candidates.append(folder.appendingPathComponent("schemas"))
                folder = folder.deletingLastPathComponent()
            }
        }
        candidates.append(URL(fileURLWithPath: fm.currentDirectoryPath).appendingPathComponent("schemas"))
        for folder in candidates {
            let file = folder.appendingPathComponent("pipeline.schema.json")
            if fm.fileExists(atPath: file.path) { return file }
        }
        throw PipelineError.io("schemas/pipeline.schema.json not found (looked in \(candidates.map(\.path).joined(separator: ", "))); set DISTILLERY_SCHEMAS to the folder holding it")
    }

    /// Read once per process: a study validates its file in every stage, the fuzzer thousands of times.
    static let loaded = Result<JSONSchema, any Error> {
        do { return try JSONSchema(contentsOf: try location()) } catch let error as PipelineError { throw error } catch {
            throw PipelineError.io("cannot read the pipeline schema: \(error)")
        }
    }

    static func validate(_ url: URL) throws {
        let schema = try loaded.get()
        let violations: [SchemaViolation]
        do { violations = try schema.validate(contentsOf: url) } catch {
            throw PipelineError.invalid("\(url.path): \(error)")
        }
        guard violations.isEmpty else {
            throw PipelineError.invalid("\(url.path) does not match schemas/pipeline.schema.json:\n" + violations.map { "  \($0)" }.joined(separator: "\n"))
        }
    }
}
