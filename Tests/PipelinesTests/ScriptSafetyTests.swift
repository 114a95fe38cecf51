import Foundation
import TestSupport
import XCTest
@testable import Pipelines

/// Untrusted pipeline files and the Slurm scripts made from them: every value that reaches a
/// script is refused by name or written so that the script parses (`bash -n`), keeps the
/// template's lines, and hands each quoted path to the command exactly as given.
extension PipelineTests {
    static let hostileValues = ["debug\ntouch /tmp/x", "a\rb", "$(id)", "`id`", "a'b", "a\"b", "a;b", "a&b", "a|b", "a b", "a#b",
                                "ünïcode", String(repeating: "a", count: 10_000), "../up", "/absolute", ".hidden", "x\n#SBATCH --uid=0", "plain\n"]

    /// A value as a YAML double-quoted scalar (JSON's escapes are YAML's).
    func yamlString(_ value: String) -> String {
        String(decoding: try! JSONEncoder().encode(value), as: UTF8.self)
    }

    var benignOptions: SlurmExecutor.Options {
        .init(binary: "/opt/distillery/bin/distillery", directory: folder.path, pipelineFile: "study.yaml", results: "results")
    }

    func testHostilePipelineValuesAreRefusedByField() throws {
        let base = try study(grid: twoObjectives, extra: "resources: {partition: debug, account: lab, cpus: 2}")
        let text = try String(contentsOf: base, encoding: .utf8)
        let benign = try SlurmExecutor(pipeline: try Pipeline.load(base, results: folder), options: benignOptions).scripts()
        var refused = 0, written = 0
        for value in Self.hostileValues {
            let quoted = yamlString(value)
            let cases: [(field: String, text: String)] = [
                ("name", text.replacingOccurrences(of: "name: tiny", with: "name: \(quoted)")),
                ("resources.partition", text.replacingOccurrences(of: "partition: debug", with: "partition: \(quoted)")),
                ("resources.account", text.replacingOccurrences(of: "account: lab", with: "account: \(quoted)")),
                ("resources.cpus", text.replacingOccurrences(of: "cpus: 2", with: "cpus: \(quoted)")),
                ("student", text + "\nstudents:\n  - {name: \(quoted), objectives: {ce: 1}}\n"),
            ]
            for (field, yaml) in cases {
                let url = try write(yaml, "hostile.yaml")
                do {
                    let pipeline = try Pipeline.load(url, results: folder)
                    let scripts = try SlurmExecutor(pipeline: pipeline, options: benignOptions).scripts()
                    try checkScripts(scripts, against: benign, value: value)
                    written += 1
                } catch {
                    XCTAssertTrue("\(error)".contains(field), "\(field) = \(value.prefix(40).debugDescription): the error does not name the field: \(error)")
                    XCTAssertFalse("\(error)".contains("\n#SBATCH"), "the error echoes a raw newline")
                    refused += 1
                }
            }
        }
        // Every hostile value is refused, but ".hidden", a valid Slurm partition and account name
        // (written as the template's line); it is refused as a study or student name.
        XCTAssertEqual(written, 2)
        XCTAssertEqual(refused, Self.hostileValues.count * 5 - 2)
    }

    /// Paths from the command line go single-quoted into the exec line; what an #SBATCH line
    /// cannot hold (the working directory) is refused; control characters are refused everywhere.
    func testHostileCommandLinePathsAreQuotedOrRefused() throws {
        let pipeline = try Pipeline.load(try study(grid: twoObjectives), results: folder)
        let benign = try SlurmExecutor(pipeline: pipeline, options: benignOptions).scripts()
        var quotedCount = 0
        for value in Self.hostileValues {
            for field in ["--binary", "the pipeline file", "--results", "the working directory"] {
                var options = benignOptions
                switch field {
                case "--binary": options.binary = value
                case "the pipeline file": options.pipelineFile = value
                case "--results": options.results = value
                default: options.directory = value
                }
                do {
                    let scripts = try SlurmExecutor(pipeline: pipeline, options: options).scripts()
                    try checkScripts(scripts, against: benign, value: value)
                    let arguments = try execArguments(scripts[0].text)
                    XCTAssertEqual([arguments[0], arguments[2], arguments[4]], [options.binary, options.pipelineFile, options.results],
                                   "\(field) = \(value.prefix(40).debugDescription) did not reach the command as given")
                    quotedCount += 1
                } catch {
                    XCTAssertTrue("\(error)".contains(field), "\(field): the error does not name it: \(error)")
                }
            }
        }
        XCTAssertGreaterThan(quotedCount, 20, "shell characters in paths are quoted, not refused")
    }

    /// `bash -n` passes, every line is a template line (the benign script's line, up to where
    /// values begin), and the template check agrees.
    func checkScripts(_ scripts: [SlurmExecutor.Script], against benign: [SlurmExecutor.Script], value: String) throws {
        XCTAssertEqual(scripts.count, benign.count)
        for (script, reference) in zip(scripts, benign) {
            XCTAssertNil(SlurmExecutor.templateViolation(script.text))
            let lines = script.text.split(separator: "\n"), expected = reference.text.split(separator: "\n")
            XCTAssertEqual(lines.count, expected.count, "\(value.prefix(40).debugDescription) added a line:\n\(script.text.prefix(2000))")
            for (line, template) in zip(lines, expected) {
                let prefix = template.hasPrefix("#SBATCH") ? template.prefix(through: template.firstIndex(of: "=")!) : template.prefix(5)
                XCTAssertTrue(line.hasPrefix(prefix), "\(line.prefix(120)) is not the template's \(prefix)")
            }
            let file = folder.appendingPathComponent("check.sbatch")
            try script.text.write(to: file, atomically: true, encoding: .utf8)
            let syntax = try runProgram("bash", ["-n", file.path])
            XCTAssertEqual(syntax.status, 0, "bash -n: \(syntax.output)")
        }
    }

    /// The exec line's words as bash splits them (printf instead of exec; nothing runs).
    func execArguments(_ script: String) throws -> [String] {
        let exec = script.split(separator: "\n").first { $0.hasPrefix("exec ") }!
        let result = try runProgram("bash", ["-c", "printf '%s\\0' " + exec.dropFirst(5)])
        XCTAssertEqual(result.status, 0, result.output)
        return result.stdout.split(separator: "\0", omittingEmptySubsequences: false).dropLast().map(String.init)
    }
}
