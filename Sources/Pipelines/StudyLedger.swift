import Distillation
import Foundation
import Hashing
import Reports

/// What a study's stages leave for later stages, which may run in other processes (Slurm jobs):
/// each student's outcome, each task's time, and the settings key of each fine-tune — one small
/// JSON file each, written whole (write, then rename), so parallel tasks never share a file.
struct StudyLedger {
    let folder: URL
    var outcomes: URL { folder.appendingPathComponent("outcomes") }
    var timings: URL { folder.appendingPathComponent("timings") }

    private struct Outcome: Codable { var status: String, message: String? }

    func record(student: String, _ status: StudentStatus) throws {
        try write(Outcome(status: status.word, message: status.message), to: outcomes.appendingPathComponent("\(student).json"))
    }

    func outcome(of student: String) -> StudentStatus? {
        read(Outcome.self, from: outcomes.appendingPathComponent("\(student).json")).flatMap { StudentStatus(word: $0.status, message: $0.message) }
    }

    private struct Timing: Codable { var stage: String, task: Int, seconds: Double }

    func record(stage: StudyJobs.Stage, task: Int, seconds: Double) throws {
        try write(Timing(stage: stage.rawValue, task: task, seconds: seconds),
                  to: timings.appendingPathComponent("\(stage.rawValue)-\(task).json"))
    }

    /// Seconds per stage in stage order; a stage of several tasks shows their sum and count.
    func stageTimings() -> [StageTiming] {
        let files = (try? FileManager.default.contentsOfDirectory(at: timings, includingPropertiesForKeys: nil)) ?? []
        let all = files.compactMap { read(Timing.self, from: $0) }
        return StudyJobs.Stage.allCases.compactMap { stage in
            let tasks = all.filter { $0.stage == stage.rawValue }
            guard !tasks.isEmpty else { return nil }
            let name = tasks.count > 1 ? "\(stage.rawValue) (\(tasks.count) tasks)" : stage.rawValue
            return StageTiming(name: name, seconds: tasks.reduce(0) { $0 + $1.seconds })
        }
    }

    /// A new run of the study starts its timings afresh (old task counts may differ).
    func clearTimings() { try? FileManager.default.removeItem(at: timings) }

    // MARK: keys of finished steps (fine-tunes, TED filters)

    private struct Key: Codable { var key: String }

    func recordedKey(at file: URL) -> String? { read(Key.self, from: file)?.key }

    func record(key: String, at file: URL) throws { try write(Key(key: key), to: file) }

    /// A key for what a step depends on: the hashes of its input files and its settings.
    static func key(files: [URL], settings: [String]) throws -> String {
        var parts = settings
        for file in files {
            do { parts.append(try RememberedHash.file(at: file)) } catch {
                throw PipelineError.io("cannot read \(file.path): \(error)")
            }
        }
        return ContentHash.data(Data(parts.joined(separator: "\n").utf8))
    }

    // MARK: files

    private func write<T: Encodable>(_ value: T, to file: URL) throws {
        do {
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(value).write(to: file, options: .atomic)
        } catch {
            throw PipelineError.io("cannot write \(file.path): \(error.localizedDescription)")
        }
    }

    private func read<T: Decodable>(_ type: T.Type, from file: URL) -> T? {
        guard let data = try? Data(contentsOf: file) else { return nil }
        return try? JSONDecoder().decode(T.self, from: data)
    }
}
