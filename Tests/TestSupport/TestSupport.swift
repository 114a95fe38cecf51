import Foundation

/// Helpers every test target shares: running programs, finding the package and built products,
/// temporary folders, and a seeded generator for test data.

/// The package root, found from this file's location.
public let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A fresh folder under the system temporary directory.
public func makeTemporaryDirectory(_ prefix: String = "distillery-tests") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A program's exit status and output.
public struct ProgramResult {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    /// Standard output and error together (stdout first).
    public var output: String { stdout + stderr }
}

/// Runs `executable` with `arguments`, an optional standard input and extra environment variables.
public func runProgram(_ executable: URL, _ arguments: [String], stdin: String? = nil,
                       environment: [String: String] = [:]) throws -> ProgramResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    // Read both pipes at once so that neither fills up and blocks the child.
    var outputData = Data()
    let reading = DispatchGroup()
    reading.enter()
    DispatchQueue.global().async { outputData = out.fileHandleForReading.readDataToEndOfFile(); reading.leave() }
    let errorData = err.fileHandleForReading.readDataToEndOfFile()
    reading.wait()
    process.waitUntilExit()
    return ProgramResult(status: process.terminationStatus, stdout: String(decoding: outputData, as: UTF8.self),
                         stderr: String(decoding: errorData, as: UTF8.self))
}

/// Runs a program found on PATH.
public func runProgram(_ program: String, _ arguments: [String], stdin: String? = nil,
                       environment: [String: String] = [:]) throws -> ProgramResult {
    try runProgram(URL(fileURLWithPath: "/usr/bin/env"), [program] + arguments, stdin: stdin, environment: environment)
}

/// Runs a `/bin/sh -c` command line.
public func shell(_ command: String, environment: [String: String] = [:]) throws -> ProgramResult {
    try runProgram(URL(fileURLWithPath: "/bin/sh"), ["-c", command], environment: environment)
}

/// Whether a program is on PATH.
public func onPath(_ program: String) -> Bool {
    (try? shell("command -v \(program)").status) == 0
}

/// An executable product built next to the running test bundle (e.g. `distillery`).
public func builtProduct(_ name: String) -> URL {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path) && dir.path != "/" {
        dir = dir.deletingLastPathComponent()
    }
    return dir.appendingPathComponent(name)
}

/// A small deterministic generator (SplitMix64) so tests do not depend on the system RNG.
public struct SeededRandom {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-scale, scale).
    public mutating func floats(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in (Float(next() >> 40) / Float(1 << 24) * 2 - 1) * scale }
    }
    /// Roughly normal (sum of four uniforms), like activations.
    public mutating func activations(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in
            var s: Float = 0
            for _ in 0..<4 { s += Float(next() >> 40) / Float(1 << 24) - 0.5 }
            return s * scale
        }
    }
}

/// A labelled JSON Lines file of `rows` short sentences over the tiny fixture vocabulary
/// (`{"id", "text", "label"}` with labels negative / neutral / positive), deterministic, with
/// lengths 1…24 words so that sequences of many lengths share batches.
public func writeLabelledSentences(in folder: URL, rows: Int, name: String = "train.jsonl", offset: Int = 0) throws -> URL {
    let words = ["the", "cat", "sat", "on", "a", "mat", "dog", "movie", "was", "very", "good", "bad", "not", "great", "film"]
    var lines: [String] = []
    for r in 0..<rows {
        let i = r + offset
        let count = 1 + (i * 7) % 24
        let text = (0..<count).map { words[($0 * 3 + i) % words.count] }.joined(separator: " ")
        let label = ["negative", "neutral", "positive"][i % 3]
        lines.append(#"{"id": "ex\#(i)", "text": "\#(text).", "label": "\#(label)"}"#)
    }
    let url = folder.appendingPathComponent(name)
    try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
    return url
}
