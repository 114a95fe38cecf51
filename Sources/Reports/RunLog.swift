import Foundation

/// What a student's run folder (see `RunFolder` in Distillation) tells a report:
///   config.json     parameters, spec.seed
///   metrics.jsonl   {step, loss, ...} per logged update  → `curve`
///   eval.jsonl      {step, loss, accuracy, ...} per dev evaluation → `evaluations`, `bestDev`
///   done.json       {seconds, steps, ...}, written last → `finished`, `seconds`
/// Missing files are normal (a student that failed before or during training); a line that is not
/// a JSON object with a numeric `step` is an error naming the file and line.
public struct RunLog: Equatable, Sendable {
    public var curve: [CurvePoint] = []
    public var evaluations: [CurvePoint] = []
    /// The metric `evaluations` holds (`Metric.main` of the eval lines), nil without eval lines.
    public var evaluationMetric: String?
    /// The task metrics of the best evaluation, chosen as the trainer chooses its `best/` checkpoint
    /// (highest accuracy, else lowest MSE, else highest teacher cosine, else lowest loss; the first on ties).
    public var bestDev: [String: Double] = [:]
    /// done.json exists: the run finished.
    public var finished = false
    public var seconds: Double?
    public var parameters: Int?
    public var seed: UInt64?

    public init() {}

    /// "trained" for a finished run, otherwise the reason it is not.
    public var status: String {
        if finished { return "trained" }
        if let last = curve.last { return "failed: stopped after update \(last.step)" }
        return "failed: no training log"
    }

    /// Reads `folder`; a folder that does not exist reads as an empty, unfinished run.
    public static func read(_ folder: URL) throws -> RunLog {
        var log = RunLog()
        if let config = try object(folder.appendingPathComponent("config.json")) {
            log.parameters = (config["parameters"] as? NSNumber)?.intValue
            if let spec = config["spec"] as? [String: Any], let seed = spec["seed"] as? NSNumber { log.seed = seed.uint64Value }
        }
        for (line, object) in try lines(folder.appendingPathComponent("metrics.jsonl")) {
            guard let loss = number(object["loss"]) else { throw malformed(folder, "metrics.jsonl", line, "no numeric 'loss'") }
            log.curve.append(CurvePoint(step: try step(object, folder, "metrics.jsonl", line), value: loss))
        }
        var best: (score: Double, metrics: [String: Double])?
        for (line, object) in try lines(folder.appendingPathComponent("eval.jsonl")) {
            let step = try step(object, folder, "eval.jsonl", line)
            var metrics: [String: Double] = [:]
            for (key, value) in object where key != "step" && key != "examples" {
                if let x = number(value) { metrics[key] = x }
            }
            guard let metric = log.evaluationMetric ?? Metric.main(Set(metrics.keys)), let value = metrics[metric] else {
                throw malformed(folder, "eval.jsonl", line, "no \(log.evaluationMetric ?? "accuracy, regression_mse, teacher_cosine or loss")")
            }
            log.evaluationMetric = metric
            log.evaluations.append(CurvePoint(step: step, value: value))
            let score = Metric.lowerIsBetter.contains(metric) ? -value : value
            // The table shows task metrics; the distillation loss only when there is nothing else.
            if metric != "loss" { metrics["loss"] = nil }
            if best == nil || score > best!.score { best = (score, metrics) }
        }
        log.bestDev = best?.metrics ?? [:]
        if let done = try object(folder.appendingPathComponent("done.json")) {
            log.finished = true
            log.seconds = number(done["seconds"])
        }
        return log
    }

    // MARK: Reading

    private static func malformed(_ folder: URL, _ name: String, _ line: Int, _ reason: String) -> ReportsError {
        .malformed(file: folder.appendingPathComponent(name).path, line: line, reason: reason)
    }

    private static func number(_ value: Any?) -> Double? {
        guard let n = value as? NSNumber else { return nil }
        let x = n.doubleValue
        return x.isFinite ? x : nil
    }

    private static func step(_ object: [String: Any], _ folder: URL, _ name: String, _ line: Int) throws -> Int {
        guard let n = object["step"] as? NSNumber, n.doubleValue == n.doubleValue.rounded() else {
            throw malformed(folder, name, line, "no whole-number 'step'")
        }
        return n.intValue
    }

    private static func contents(_ url: URL) throws -> Data? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do { return try Data(contentsOf: url) } catch {
            throw ReportsError.io("cannot read \(url.path): \(error.localizedDescription)")
        }
    }

    /// A JSON object file, nil when absent.
    private static func object(_ url: URL) throws -> [String: Any]? {
        guard let data = try contents(url) else { return nil }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ReportsError.malformed(file: url.path, line: 0, reason: "not a JSON object")
        }
        return object
    }

    /// The non-empty lines of a JSON Lines file with their 1-based numbers; none when absent.
    private static func lines(_ url: URL) throws -> [(Int, [String: Any])] {
        guard let data = try contents(url) else { return [] }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ReportsError.malformed(file: url.path, line: 0, reason: "not UTF-8 text")
        }
        var result: [(Int, [String: Any])] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy(\.isWhitespace) { continue }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                throw ReportsError.malformed(file: url.path, line: index + 1, reason: "not a JSON object: \(line.prefix(80))")
            }
            result.append((index + 1, object))
        }
        return result
    }
}

extension StudentResult {
    /// A student as its run folder shows it: curve, evaluations, status, best dev metrics, seconds,
    /// and the parameters and seed when config.json has them (else `parameters` and `seed` as given).
    /// Test metrics, and a "skipped (already trained)" status, are the runner's to set.
    public init(name: String, group: String, seed: UInt64, objectives: String, initialization: String, mapping: String,
                size: String, parameters: Int = 0, runFolder: URL) throws {
        let log = try RunLog.read(runFolder)
        self.init(name: name, group: group, seed: log.seed ?? seed, objectives: objectives, initialization: initialization,
                  mapping: mapping, size: size, parameters: log.parameters ?? parameters, status: log.status,
                  dev: log.bestDev, trainingSeconds: log.seconds ?? 0, curve: log.curve, evaluations: log.evaluations,
                  evaluationMetric: log.evaluationMetric ?? "accuracy")
    }
}
