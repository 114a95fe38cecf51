import Foundation
import SchemaValidation
import TestSupport
import XCTest

/// The pipeline schema is standard JSON Schema, not only what SchemaValidation understands:
/// Python's jsonschema (the reference implementation, through scripts/check_schema.py) checks the
/// schema against its meta-schema and accepts the same documents. Skips with the reason when
/// Python or jsonschema is missing (`make setup-python` installs it).
final class PythonJSONSchemaTests: XCTestCase {
    func testJSONSchemaAcceptsTheShippedPipelinesAndFixtures() throws {
        let folder = try makeTemporaryDirectory("schema-check")
        defer { try? FileManager.default.removeItem(at: folder) }
        var documents: [(name: String, value: Any, ref: String)] = try PipelineDocuments.shipped().map { ($0.name, $0.value, $0.ref) }
        for name in ["every-key.yaml", "task-agnostic-grid.yaml"] {
            documents.append((name, try loadYAMLAsJSON(PipelineSchemaTests.fixtures.appendingPathComponent(name)), "#"))
        }
        documents.append(("docs/pipelines.md example", try PipelineDocuments.documentedExample(), "#"))

        var arguments = [packageRoot.appendingPathComponent("scripts/check_schema.py").path, PipelineSchemaTests.schemaURL.path]
        for (i, document) in documents.enumerated() {
            let url = folder.appendingPathComponent("document-\(i).json")
            try JSONSerialization.data(withJSONObject: document.value, options: [.sortedKeys]).write(to: url)
            arguments.append(document.ref == "#" ? url.path : url.path + document.ref)
        }
        let result: ProgramResult
        do { result = try runProgram("python3", arguments) } catch { throw XCTSkip("python3 cannot be run: \(error)") }
        if result.status == 3 || result.status == 127 { throw XCTSkip(result.output.trimmingCharacters(in: .whitespacesAndNewlines)) }
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.stdout.contains("\(documents.count) documents, 0 violations"), result.output)
    }

    /// jsonschema refuses what the Swift validator refuses (the same two mistakes, by path).
    func testJSONSchemaRefusesTheSameMistakes() throws {
        let folder = try makeTemporaryDirectory("schema-check")
        defer { try? FileManager.default.removeItem(at: folder) }
        let pipeline = try loadYAMLAsJSON(string: """
        teacher: {path: t, finetune: {from: m}}
        data: {train: d.jsonl}
        training: {epochs: -1}
        students: [{name: a, objectives: {kd: "0.5"}}]
        """)
        let url = folder.appendingPathComponent("mistakes.json")
        try JSONSerialization.data(withJSONObject: pipeline).write(to: url)
        let swift = try JSONSchema(contentsOf: PipelineSchemaTests.schemaURL).validate(pipeline).map(\.path)
        XCTAssertEqual(swift, ["teacher", "training.epochs", "students[0].objectives.kd"])

        let result: ProgramResult
        do {
            result = try runProgram("python3", [packageRoot.appendingPathComponent("scripts/check_schema.py").path, PipelineSchemaTests.schemaURL.path, url.path])
        } catch { throw XCTSkip("python3 cannot be run: \(error)") }
        if result.status == 3 || result.status == 127 { throw XCTSkip(result.output.trimmingCharacters(in: .whitespacesAndNewlines)) }
        XCTAssertEqual(result.status, 1, result.output)
        let pythonPaths = result.stdout.split(separator: "\n").compactMap { line -> String? in
            let parts = line.components(separatedBy: ": ")
            return parts.count >= 3 ? parts[1] : nil
        }
        XCTAssertEqual(Set(pythonPaths), Set(swift), result.output)
    }
}
