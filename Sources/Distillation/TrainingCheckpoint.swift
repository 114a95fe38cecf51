import Foundation
import SafeTensors
import Training

/// Everything a killed run needs to continue to the same final weights as an uninterrupted one:
/// every trainable value (student and objective-owned), both AdamW moments, the update count and
/// where in which epoch the batches stood. Dropout masks and batch order are pure functions of
/// the seeds, the step and the epoch, so they need no state of their own.
///
/// On disk: `checkpoint/state.json` (position, run hash) and `checkpoint/state.safetensors`
/// (values per optimiser segment, `adamw.first`, `adamw.second`), written into a staging folder
/// and swapped in by renames, so a kill at any instant leaves the previous checkpoint or the new
/// one, never a mixture.
struct TrainingCheckpoint: Codable, Equatable {
    /// Content hash of configuration and cache: a checkpoint never continues another run.
    var runHash: String
    /// Updates done.
    var step: Int
    /// The epoch in progress (0-based) and how many of its batches were consumed.
    var epoch: Int
    var batchInEpoch: Int
    /// The best dev score so far (nil before the first evaluation).
    var bestScore: Double?
    /// Lines of metrics.jsonl and eval.jsonl at this point (a resumed run drops later ones).
    var metricsLines: Int
    var evalLines: Int

    enum CodingKeys: String, CodingKey {
        case runHash = "run_hash", step, epoch, batchInEpoch = "batch_in_epoch", bestScore = "best_score"
        case metricsLines = "metrics_lines", evalLines = "eval_lines"
    }

    static func save(_ position: TrainingCheckpoint, segments: [ParameterSegment], optimizer: AdamW, in run: RunFolder) throws {
        let fm = FileManager.default
        let target = run.checkpoint
        let staging = run.url.appendingPathComponent(".checkpoint.partial"), previous = run.url.appendingPathComponent(".checkpoint.old")
        do {
            try? fm.removeItem(at: staging)
            try fm.createDirectory(at: staging, withIntermediateDirectories: true)
            var writer = SafeTensorsWriter(metadata: ["format": "distillery-checkpoint"])
            for s in segments {
                try writer.add("value." + s.name, shape: [s.count], floats: Array(UnsafeBufferPointer(start: s.values, count: s.count)))
            }
            let moments = optimizer.moments
            try writer.add("adamw.first", shape: [moments.first.count], floats: moments.first.toArray())
            try writer.add("adamw.second", shape: [moments.second.count], floats: moments.second.toArray())
            try writer.write(to: staging.appendingPathComponent("state.safetensors"))
            // The position is written last inside the staging folder: a folder without it is ignored.
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            var json = try JSONSerialization.jsonObject(with: encoder.encode(position)) as! [String: Any]
            json["optimizer_step"] = optimizer.step
            try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
                .write(to: staging.appendingPathComponent("state.json"), options: .atomic)
            // Swap: the old checkpoint stays readable (as .checkpoint.old) until the new one is in place.
            try? fm.removeItem(at: previous)
            if fm.fileExists(atPath: target.path) { try fm.moveItem(at: target, to: previous) }
            try fm.moveItem(at: staging, to: target)
            try? fm.removeItem(at: previous)
        } catch {
            try? fm.removeItem(at: staging)
            throw DistillationError.io("cannot write the checkpoint \(target.path): \(error.localizedDescription); the previous checkpoint (if any) is kept")
        }
    }

    /// The latest complete checkpoint of `run`, or nil when there is none.
    static func latest(in run: RunFolder) -> URL? {
        for folder in [run.checkpoint, run.url.appendingPathComponent(".checkpoint.old")]
        where FileManager.default.fileExists(atPath: folder.appendingPathComponent("state.json").path) {
            return folder
        }
        return nil
    }

    /// The run hash of the latest checkpoint in `run`, if there is one.
    static func runHash(in run: RunFolder) -> String? {
        guard let folder = latest(in: run), let data = try? Data(contentsOf: folder.appendingPathComponent("state.json")) else { return nil }
        return (try? JSONDecoder().decode(TrainingCheckpoint.self, from: data))?.runHash
    }

    /// Reads the checkpoint in `folder` into the segments and the optimiser; returns the position.
    static func restore(from folder: URL, segments: [ParameterSegment], optimizer: AdamW) throws -> TrainingCheckpoint {
        let stateURL = folder.appendingPathComponent("state.json"), tensorsURL = folder.appendingPathComponent("state.safetensors")
        do {
            let data = try Data(contentsOf: stateURL)
            let position = try JSONDecoder().decode(TrainingCheckpoint.self, from: data)
            guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any], let optimizerStep = json["optimizer_step"] as? Int else {
                throw DistillationError.io("\(stateURL.path): optimizer_step is missing")
            }
            let file = try SafeTensorsFile(url: tensorsURL)
            for s in segments {
                let values = try file.floats("value." + s.name, shape: [s.count])
                s.values.update(from: values, count: s.count)
            }
            try optimizer.restore(step: optimizerStep, first: try file.floats("adamw.first"), second: try file.floats("adamw.second"))
            return position
        } catch let error as DistillationError {
            throw error
        } catch {
            throw DistillationError.io("cannot resume from the checkpoint \(folder.path): \(error)")
        }
    }
}
