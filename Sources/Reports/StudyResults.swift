import Foundation

// What a report shows: the input the study runner fills, one value per finished study.
// Everything is Codable so a runner can save it (`results/<name>/study.json`) and a report can be
// made again later from that file alone. Metric maps use the names of eval.jsonl:
// accuracy, macro_f1, matthews, regression_mse, teacher_cosine (loss when there is nothing else).

/// A finished study: the teacher, every student (one per seed), the cache and the stages' times.
public struct StudyResults: Codable, Equatable, Sendable {
    /// The pipeline's name.
    public var name: String
    public var teacher: TeacherResult
    /// In the pipeline's order; groups (table rows) appear in the order of their first student.
    public var students: [StudentResult]
    /// One entry per cached dataset group (e.g. "hidden/3", "attention/6", "logits/full").
    public var cacheComponents: [CacheComponent]
    /// In the order they ran ("fine-tune teacher", "cache train", "train students", ...).
    public var stages: [StageTiming]

    public init(name: String, teacher: TeacherResult, students: [StudentResult] = [],
                cacheComponents: [CacheComponent] = [], stages: [StageTiming] = []) {
        self.name = name; self.teacher = teacher; self.students = students
        self.cacheComponents = cacheComponents; self.stages = stages
    }

    /// The students by group, groups in the order of their first student, members in input order.
    public var groups: [(name: String, students: [StudentResult])] {
        var order: [String] = [], members: [String: [StudentResult]] = [:]
        for s in students {
            if members[s.group] == nil { order.append(s.group) }
            members[s.group, default: []].append(s)
        }
        return order.map { ($0, members[$0]!) }
    }
}

public struct TeacherResult: Codable, Equatable, Sendable {
    /// A short name for the table (e.g. "all-MiniLM-L6-v2 (fine-tuned)").
    public var name: String
    /// The teacher's folder.
    public var path: String
    public var parameters: Int
    /// Layers × hidden size, e.g. "6×384".
    public var size: String
    public var dev: [String: Double]
    public var test: [String: Double]
    /// Fine-tuning time when the study fine-tuned the teacher, nil for a given teacher.
    public var trainingSeconds: Double?

    public init(name: String, path: String, parameters: Int, size: String, dev: [String: Double] = [:],
                test: [String: Double] = [:], trainingSeconds: Double? = nil) {
        self.name = name; self.path = path; self.parameters = parameters; self.size = size
        self.dev = dev; self.test = test; self.trainingSeconds = trainingSeconds
    }
}

/// One trained (or failed) student: one seed of a group.
public struct StudentResult: Codable, Equatable, Sendable {
    /// The run's name, e.g. "attention-lower-s1".
    public var name: String
    /// The table row it belongs to: the name without its seed, e.g. "attention-lower".
    public var group: String
    public var seed: UInt64
    /// Objective weights as written in the pipeline, e.g. "attention_kl=1, ce=0.5, kd=0.5".
    public var objectives: String
    /// e.g. "lower", "random", "1,3,5".
    public var initialization: String
    /// e.g. "hidden uniform · attention last".
    public var mapping: String
    /// Layers × hidden size, e.g. "3×384".
    public var size: String
    public var parameters: Int
    /// "trained", "skipped (already trained)" or "failed: <reason>" (see `failed`).
    public var status: String
    /// Metrics of the best checkpoint (by the dev score) on dev and on test.
    public var dev: [String: Double]
    public var test: [String: Double]
    public var trainingSeconds: Double
    /// Training loss over updates (metrics.jsonl: step, loss).
    public var curve: [CurvePoint]
    /// The dev metric named by `evaluationMetric` at each evaluation (eval.jsonl).
    public var evaluations: [CurvePoint]
    /// What `evaluations` holds: "accuracy", "regression_mse", "teacher_cosine" or "loss".
    public var evaluationMetric: String

    public init(name: String, group: String, seed: UInt64, objectives: String = "", initialization: String = "",
                mapping: String = "", size: String = "", parameters: Int = 0, status: String = "trained",
                dev: [String: Double] = [:], test: [String: Double] = [:], trainingSeconds: Double = 0,
                curve: [CurvePoint] = [], evaluations: [CurvePoint] = [], evaluationMetric: String = "accuracy") {
        self.name = name; self.group = group; self.seed = seed; self.objectives = objectives
        self.initialization = initialization; self.mapping = mapping; self.size = size; self.parameters = parameters
        self.status = status; self.dev = dev; self.test = test; self.trainingSeconds = trainingSeconds
        self.curve = curve; self.evaluations = evaluations; self.evaluationMetric = evaluationMetric
    }

    /// A failed student has no metrics worth averaging; its row counts it apart.
    public var failed: Bool { Self.isFailure(status) }

    /// Statuses of students without a model: stopped while training ("failed: …") or refused
    /// before it ("rejected: …"), as Distillation's StudentStatus words them.
    static func isFailure(_ status: String) -> Bool { status.hasPrefix("failed") || status.hasPrefix("rejected") }
}

/// One point of a curve: an update number and a value.
public struct CurvePoint: Codable, Equatable, Sendable {
    public var step: Int
    public var value: Double
    public init(step: Int, value: Double) { self.step = step; self.value = value }
}

/// A part of the teacher cache and what it costs.
public struct CacheComponent: Codable, Equatable, Sendable {
    /// e.g. "hidden/3", "attention/6", "logits/full".
    public var name: String
    /// Bytes on disk (compressed).
    public var storedBytes: Int
    /// Stored bytes divided by the cached tokens.
    public var bytesPerToken: Double
    public init(name: String, storedBytes: Int, bytesPerToken: Double) {
        self.name = name; self.storedBytes = storedBytes; self.bytesPerToken = bytesPerToken
    }
}

/// How long one stage of the study took.
public struct StageTiming: Codable, Equatable, Sendable {
    public var name: String
    public var seconds: Double
    public init(name: String, seconds: Double) { self.name = name; self.seconds = seconds }
}

public enum ReportsError: Error, CustomStringConvertible, Equatable {
    /// A JSON file or JSON Lines line that is not what a run folder writes: file, 1-based line (0 for a whole file), why.
    case malformed(file: String, line: Int, reason: String)
    case io(String)

    public var description: String {
        switch self {
        case let .malformed(file, line, reason): return line > 0 ? "\(file):\(line): \(reason)" : "\(file): \(reason)"
        case let .io(message): return message
        }
    }
}

/// The metrics eval.jsonl can hold, in the order tables show them; lower is better for the last three.
enum Metric {
    static let order = ["accuracy", "macro_f1", "matthews", "teacher_cosine", "regression_mse", "loss"]
    static let lowerIsBetter: Set<String> = ["regression_mse", "loss"]
    /// The values a bounded metric can take: chart axes stop at these ends.
    static let bounds: [String: ClosedRange<Double>] = ["accuracy": 0...1, "macro_f1": 0...1, "matthews": -1...1, "teacher_cosine": -1...1]

    /// The metrics present in any of `maps`, known ones first in `order`, then the rest by name.
    static func columns(_ maps: [[String: Double]]) -> [String] {
        let present = Set(maps.flatMap(\.keys))
        return order.filter(present.contains) + present.subtracting(order).sorted()
    }

    /// The metric a run is judged by (as the trainer picks its best checkpoint): accuracy, else the
    /// regression MSE, else the teacher cosine, else the loss.
    static func main(_ keys: Set<String>) -> String? {
        ["accuracy", "regression_mse", "teacher_cosine", "loss"].first(where: keys.contains)
    }
}
