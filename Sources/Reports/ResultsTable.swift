import Foundation

/// Mean, sample standard deviation (n − 1) and count of some values.
public struct MeanStd: Codable, Equatable, Sendable {
    public var mean: Double
    /// nil for a single value.
    public var std: Double?
    public var n: Int

    public init(mean: Double, std: Double?, n: Int) { self.mean = mean; self.std = std; self.n = n }

    /// nil for no values: mean = Σx / n, std = √(Σ(x − mean)² / (n − 1)).
    public init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        let count = Double(values.count), mean = values.reduce(0, +) / count
        self.mean = mean
        std = values.count > 1 ? (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (count - 1)).squareRoot() : nil
        n = values.count
    }
}

/// The results table: the teacher's row, then one row per student group (the group's seeds
/// averaged), in the order the groups first appear. Encoded as JSON it is `results.json`.
public struct ResultsTable: Codable, Equatable, Sendable {
    public var study: String
    /// The metric columns, known metrics first (accuracy, macro_f1, matthews, …).
    public var devMetrics: [String]
    public var testMetrics: [String]
    /// The teacher first.
    public var rows: [Row]

    // results.json uses snake_case keys, as the run folders' files do.
    enum CodingKeys: String, CodingKey { case study, devMetrics = "dev_metrics", testMetrics = "test_metrics", rows }

    public struct Row: Codable, Equatable, Sendable {
        /// The group's name, or the teacher's.
        public var student: String
        public var isTeacher: Bool
        public var objectives: String
        public var initialization: String
        public var mapping: String
        public var size: String
        public var parameters: Int
        /// Every seed of the group (failed ones too); empty for the teacher.
        public var members: [Member]
        /// Over the members that have the metric (failed ones have none).
        public var dev: [String: MeanStd]
        public var test: [String: MeanStd]
        /// Over the members that did not fail; nil when none has a time.
        public var trainingSeconds: MeanStd?

        public var failedCount: Int { members.filter(\.failed).count }

        enum CodingKeys: String, CodingKey {
            case student, isTeacher = "is_teacher", objectives, initialization, mapping, size, parameters, members, dev, test
            case trainingSeconds = "training_seconds"
        }
    }

    /// One seed's values.
    public struct Member: Codable, Equatable, Sendable {
        public var name: String
        public var seed: UInt64
        public var status: String
        public var dev: [String: Double]
        public var test: [String: Double]
        public var trainingSeconds: Double
        public var failed: Bool { StudentResult.isFailure(status) }

        enum CodingKeys: String, CodingKey { case name, seed, status, dev, test, trainingSeconds = "training_seconds" }
    }

    public init(study: String, devMetrics: [String], testMetrics: [String], rows: [Row]) {
        self.study = study; self.devMetrics = devMetrics; self.testMetrics = testMetrics; self.rows = rows
    }

    public init(_ results: StudyResults) {
        let t = results.teacher
        var rows = [Row(student: t.name, isTeacher: true, objectives: "—", initialization: "—", mapping: "—", size: t.size,
                        parameters: t.parameters, members: [], dev: t.dev.filter { $0.value.isFinite }.mapValues { MeanStd(mean: $0, std: nil, n: 1) },
                        test: t.test.filter { $0.value.isFinite }.mapValues { MeanStd(mean: $0, std: nil, n: 1) }, trainingSeconds: t.trainingSeconds.flatMap { MeanStd([$0]) })]
        for (name, students) in results.groups {
            let first = students[0]
            let members = students.map {
                Member(name: $0.name, seed: $0.seed, status: $0.status, dev: $0.dev.filter { $0.value.isFinite },
                       test: $0.test.filter { $0.value.isFinite }, trainingSeconds: $0.trainingSeconds)
            }
            func summaries(_ values: (Member) -> [String: Double]) -> [String: MeanStd] {
                let kept = members.filter { !$0.failed }
                let keys = Set(kept.flatMap { values($0).keys })
                return Dictionary(uniqueKeysWithValues: keys.compactMap { key in MeanStd(kept.compactMap { values($0)[key] }).map { (key, $0) } })
            }
            rows.append(Row(student: name, isTeacher: false, objectives: first.objectives, initialization: first.initialization,
                            mapping: first.mapping, size: first.size, parameters: first.parameters, members: members,
                            dev: summaries(\.dev), test: summaries(\.test),
                            trainingSeconds: MeanStd(members.filter { !$0.failed && $0.trainingSeconds > 0 }.map(\.trainingSeconds))))
        }
        self.init(study: results.name, devMetrics: Metric.columns(rows.map { $0.dev.mapValues(\.mean) }),
                  testMetrics: Metric.columns(rows.map { $0.test.mapValues(\.mean) }), rows: rows)
    }

    /// The metric the study is judged by: the first of accuracy, regression_mse, teacher_cosine, loss on dev.
    public var mainMetric: String? { Metric.main(Set(devMetrics)) }
}
