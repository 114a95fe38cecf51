import Foundation

/// A training run's folder:
///   config.json     the resolved spec, the student's config and the plan (written at start)
///   metrics.jsonl   one line per logged step: losses per objective, learning rate, tokens/s
///   eval.jsonl      one line per dev evaluation
///   final/, best/   Hugging Face checkpoints of the student (best by the dev score)
public final class RunFolder {
    public let url: URL
    private var metrics: FileHandle?
    private var evaluations: FileHandle?

    public init(url: URL) throws {
        self.url = url
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw DistillationError.io("cannot create the run folder \(url.path): \(error.localizedDescription)")
        }
    }

    public var finalCheckpoint: URL { url.appendingPathComponent("final") }
    public var bestCheckpoint: URL { url.appendingPathComponent("best") }

    public func writeConfiguration(_ value: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys])
        try write(data, to: "config.json")
    }

    public func appendMetrics(_ line: [String: Any]) throws { try append(line, to: &metrics, name: "metrics.jsonl") }
    public func appendEvaluation(_ line: [String: Any]) throws { try append(line, to: &evaluations, name: "eval.jsonl") }

    private func write(_ data: Data, to name: String) throws {
        do { try data.write(to: url.appendingPathComponent(name), options: .atomic) } catch {
            throw DistillationError.io("cannot write \(url.appendingPathComponent(name).path): \(error.localizedDescription)")
        }
    }

    private func append(_ line: [String: Any], to handle: inout FileHandle?, name: String) throws {
        let path = url.appendingPathComponent(name)
        do {
            if handle == nil {
                FileManager.default.createFile(atPath: path.path, contents: nil)
                handle = try FileHandle(forWritingTo: path)
            }
            var data = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
            data.append(0x0A)
            try handle!.write(contentsOf: data)
        } catch {
            throw DistillationError.io("cannot append to \(path.path): \(error.localizedDescription)")
        }
    }

    deinit {
        try? metrics?.close()
        try? evaluations?.close()
    }
}
