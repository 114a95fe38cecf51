import Foundation

/// A training run's folder:
///   config.json     the resolved spec, the student's config and the plan (written at start)
///   metrics.jsonl   one line per logged step: losses per objective, learning rate, tokens/s
///   eval.jsonl      one line per dev evaluation
///   checkpoint/     the latest resumable state (weights, optimiser moments, position)
///   final/, best/   Hugging Face checkpoints of the student (best by the dev score)
///   done.json       written last: the run's content hash (configuration + cache) and its results
public final class RunFolder {
    public let url: URL
    private var metrics: FileHandle?
    private var evaluations: FileHandle?

    public init(url: URL) throws {
        self.url = url
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw DistillationError.io("cannot create the run folder \(url.path): \(error.localizedDescription)")
        }
        metricsLines = Self.lineCount(url.appendingPathComponent("metrics.jsonl"))
        evalLines = Self.lineCount(url.appendingPathComponent("eval.jsonl"))
    }

    private static func lineCount(_ file: URL) -> Int {
        guard let data = try? Data(contentsOf: file) else { return 0 }
        return data.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
    }

    public var finalCheckpoint: URL { url.appendingPathComponent("final") }
    public var bestCheckpoint: URL { url.appendingPathComponent("best") }
    public var checkpoint: URL { url.appendingPathComponent("checkpoint") }
    var completion: URL { url.appendingPathComponent("done.json") }
    private static let owned = ["config.json", "metrics.jsonl", "eval.jsonl", "checkpoint", ".checkpoint.old", ".checkpoint.partial",
                                "final", "best", ".final.partial", ".best.partial", "done.json"]

    /// The content hash a finished run recorded, or nil when the run has not finished.
    public var completedHash: String? {
        guard let data = try? Data(contentsOf: completion),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return json["run_hash"] as? String
    }

    /// True when the folder holds the start of a run (metrics or a checkpoint) that did not finish.
    public var hasUnfinishedRun: Bool {
        guard completedHash == nil else { return false }
        let fm = FileManager.default
        return ["metrics.jsonl", "checkpoint", ".checkpoint.old"].contains { fm.fileExists(atPath: url.appendingPathComponent($0).path) }
    }

    /// Removes everything a run writes here (`--force`); other files in the folder are left alone.
    public func clear() throws {
        close()
        metricsLines = 0; evalLines = 0
        for name in Self.owned {
            let item = url.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: item.path) else { continue }
            do { try FileManager.default.removeItem(at: item) } catch {
                throw DistillationError.io("cannot remove \(item.path): \(error.localizedDescription)")
            }
        }
    }

    /// Written last: a later command with the same configuration and cache skips this run.
    public func markCompleted(hash: String, results: [String: Any]) throws {
        var value = results
        value["run_hash"] = hash
        try write(try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys]), to: "done.json")
    }

    public func writeConfiguration(_ value: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys])
        try write(data, to: "config.json")
    }

    public func appendMetrics(_ line: [String: Any]) throws {
        try append(line, to: &metrics, name: "metrics.jsonl")
        metricsLines += 1
    }

    public func appendEvaluation(_ line: [String: Any]) throws {
        try append(line, to: &evaluations, name: "eval.jsonl")
        evalLines += 1
    }

    /// Lines in metrics.jsonl and eval.jsonl (a checkpoint records them).
    public private(set) var metricsLines = 0, evalLines = 0

    /// A resumed run continues from its checkpoint: lines a killed run logged after it are
    /// dropped, so the logs read exactly as an uninterrupted run's.
    public func rewind(toStep step: Int, metricsLines: Int, evalLines: Int) throws {
        close()
        for (name, keep) in [("metrics.jsonl", metricsLines), ("eval.jsonl", evalLines)] {
            let path = url.appendingPathComponent(name)
            guard let text = try? String(contentsOf: path, encoding: .utf8) else {
                if keep > 0 { throw DistillationError.io("\(path.path) is missing lines the checkpoint at update \(step) recorded; use --force to start over") }
                continue
            }
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(text.hasSuffix("\n") ? 1 : 0)
            guard lines.count >= keep else {
                throw DistillationError.io("\(path.path) holds \(lines.count) lines, fewer than the \(keep) the checkpoint at update \(step) recorded; use --force to start over")
            }
            try write(Data(lines.prefix(keep).map { $0 + "\n" }.joined().utf8), to: name)
        }
        self.metricsLines = metricsLines
        self.evalLines = evalLines
    }

    func close() {
        try? metrics?.close(); metrics = nil
        try? evaluations?.close(); evaluations = nil
    }

    private func write(_ data: Data, to name: String) throws {
        do { try data.write(to: url.appendingPathComponent(name), options: .atomic) } catch {
            throw DistillationError.io("cannot write \(url.appendingPathComponent(name).path): \(error.localizedDescription)")
        }
    }

    /// Lines are appended to what is there (a resumed run continues its logs).
    private func append(_ line: [String: Any], to handle: inout FileHandle?, name: String) throws {
        let path = url.appendingPathComponent(name)
        do {
            if handle == nil {
                if !FileManager.default.fileExists(atPath: path.path) { _ = FileManager.default.createFile(atPath: path.path, contents: nil) }
                handle = try FileHandle(forWritingTo: path)
                try handle!.seekToEnd()
            }
            var data = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
            data.append(0x0A)
            try handle!.write(contentsOf: data)
        } catch {
            throw DistillationError.io("cannot append to \(path.path): \(error.localizedDescription)")
        }
    }

    deinit { close() }
}
