import Datasets
import Distillation
import Foundation
import Kernels
import TeacherCache
import Yams

/// A whole study from one YAML file (docs/pipelines.md): the teacher (a folder, or a fine-tune
/// of a pretrained one), the data, the cache (given or derived), and the students (a list and a
/// grid). Loading validates the file and expands the grid; nothing runs.
public struct Pipeline: Sendable {
    public enum Setting: String, Codable, Sendable {
        case taskSpecific = "task-specific", taskAgnostic = "task-agnostic"
    }

    public enum TeacherSource: Sendable {
        case folder(URL)
        case finetune(FinetuneSettings)
    }

    /// A fine-tuning step: the teacher's (`from` a pretrained folder), or each task-agnostic student's.
    public struct FinetuneSettings: Codable, Sendable {
        public var from: String?
        public var epochs: Int?
        public var learningRate: Float?
        public var batchSize: Int?
        public var seed: UInt64?
        public var maxLength: Int?
        /// The matrix products of the fine-tuning (nil: fp32).
        public var precision: Precision?
        enum CodingKeys: String, CodingKey {
            case from, epochs, learningRate = "learning_rate", batchSize = "batch_size", seed, maxLength = "max_length", precision
        }

        /// The fine-tuning train spec: these settings over `TeacherFinetuning.defaults`.
        var spec: TrainSpec {
            var spec = TeacherFinetuning.defaults
            if let epochs { spec.epochs = epochs }
            if let learningRate { spec.learningRate = learningRate }
            if let batchSize { spec.batchSize = batchSize }
            if let seed { spec.seed = seed; spec.dataSeed = seed }
            spec.precision = precision
            return spec
        }
    }

    public struct DataSection: Decodable, Sendable {
        public var train: String
        public var dev: String?
        public var test: String?
        public var format: DatasetFormat?
        public var textField = "text"
        public var pairField: String?
        public var labelField: String?
        public var maxLength = 128
        enum CodingKeys: String, CodingKey {
            case train, dev, test, format, textField = "text_field", pairField = "pair_field", labelField = "label_field", maxLength = "max_length"
        }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            train = try c.decode(String.self, forKey: .train)
            dev = try c.decodeIfPresent(String.self, forKey: .dev)
            test = try c.decodeIfPresent(String.self, forKey: .test)
            format = try c.decodeIfPresent(String.self, forKey: .format).flatMap(DatasetFormat.init(rawValue:))
            textField = try c.decodeIfPresent(String.self, forKey: .textField) ?? "text"
            pairField = try c.decodeIfPresent(String.self, forKey: .pairField)
            labelField = try c.decodeIfPresent(String.self, forKey: .labelField)
            maxLength = try c.decodeIfPresent(Int.self, forKey: .maxLength) ?? 128
        }

        /// How `distillery cache` reads these files (`labelled: false` leaves the labels out).
        func readOptions(labelled: Bool) -> DatasetReadOptions {
            var options = DatasetReadOptions()
            options.format = format
            options.fields = DatasetFields(text: textField, textPair: pairField, label: labelled ? labelField : nil, id: nil)
            return options
        }
    }

    /// How the study is cut into jobs (`StudyJobs`) and what each job asks a scheduler for.
    public struct Resources: Codable, Sendable {
        /// CPUs, memory and time limit per job (Slurm: --cpus-per-task, --mem, --time).
        public var cpus: Int?
        public var memoryGB: Double?
        public var timeMinutes: Int?
        /// Slurm partition and account, passed on when given.
        public var partition: String?
        public var account: String?
        /// Training-split shards cached side by side (default 1), then merged.
        public var shards: Int?
        /// Most students per students task (default: as many of those sharing a cache pass as fit in memory, `StudentMemory`).
        public var studentsPerTask: Int?
        enum CodingKeys: String, CodingKey {
            case cpus, memoryGB = "memory_gb", timeMinutes = "time_minutes", partition, account, shards, studentsPerTask = "students_per_task"
        }

        /// Upper bounds (the schema's too): far above any cluster, low enough that no size overflows.
        static let limits = (cpus: 4096, memoryGB: 1_048_576.0, timeMinutes: 5_256_000, shards: 10_000, studentsPerTask: 100_000)

        /// Refuses, naming the field, what no scheduler takes or a script cannot hold (ScriptValues).
        func check() throws {
            func within<T: Comparable>(_ value: T?, _ low: T, _ high: T, _ key: CodingKeys) throws {
                guard let value, value < low || value > high || (value as? Double).map({ !$0.isFinite }) == true else { return }
                throw PipelineError.invalid("resources.\(key.rawValue): \(value) is outside \(low)…\(high)")
            }
            try within(cpus, 1, Self.limits.cpus, .cpus)
            try within(memoryGB, Double.leastNonzeroMagnitude, Self.limits.memoryGB, .memoryGB)
            try within(timeMinutes, 1, Self.limits.timeMinutes, .timeMinutes)
            try within(shards, 1, Self.limits.shards, .shards)
            try within(studentsPerTask, 1, Self.limits.studentsPerTask, .studentsPerTask)
            if let partition { try ScriptValues.slurmName(partition, field: "resources.partition", list: true) }
            if let account { try ScriptValues.slurmName(account, field: "resources.account") }
        }
    }

    /// One student of the study, with what the results table shows about it.
    public struct Student: Sendable {
        public var named: NamedStudent
        /// The results row: the name without its seed (seeds of a group are averaged).
        public var group: String
        /// The objective set's name in the grid, or the objectives themselves.
        public var objectivesLabel: String

        /// The results table's objectives: "kd (ce=0.5, kd=0.5)" for a grid's named set, the
        /// weights alone for an explicit student (whose label is the weights already).
        public var objectivesColumn: String {
            let weights = Pipeline.describe(named.spec.objectives)
            return objectivesLabel == weights ? weights : "\(objectivesLabel) (\(weights))"
        }
    }

    public var name: String
    public var source: URL
    public var setting: Setting
    public var teacher: TeacherSource
    public var data: DataSection
    /// The cache spec the file gives; nil = derived from the students (`CachePlanner`).
    public var cache: CacheSpec?
    public var students: [Student]
    public var studentFinetune: FinetuneSettings?
    public var resources: Resources?

    /// Reads, validates and expands `url`. Every error names the file and the field. Students
    /// with the `ted` objective and no `ted_filters` of their own get the filters the study trains
    /// (`results/<name>/ted-filters.safetensors`).
    public static func load(_ url: URL, results: URL = URL(fileURLWithPath: "results")) throws -> Pipeline {
        let origin = url.path
        func invalid(_ why: String) -> PipelineError { .invalid("\(origin): \(why)") }
        try PipelineSchema.validate(url)
        let root = try loadSpecNode(yaml: url, key: nil, unreadable: { PipelineError.io($0) }, invalid: { PipelineError.invalid($0) })
        guard let mapping = root.mapping else { throw invalid("expected a mapping at the top level") }
        func decode<T: Decodable>(_ type: T.Type, _ key: String) throws -> T? {
            guard let node = mapping[key] else { return nil }
            return try decodeSpecNode(T.self, node: node, origin: "\(origin): \(key)", invalid: { PipelineError.invalid($0) })
        }
        let name = mapping["name"]?.string ?? url.deletingPathExtension().lastPathComponent
        if let problem = FolderName.problem(name) {
            throw invalid("name: \(name.prefix(120).debugDescription) \(problem) (it names results/<name>/\(mapping["name"] == nil ? "; the file's stem is the default, so give `name:`" : ""))")
        }
        let setting = try decode(Setting.self, "setting") ?? .taskSpecific
        guard let teacherNode = mapping["teacher"]?.mapping else { throw invalid("teacher: missing (a folder `path`, or `finetune: {from: …}`)") }
        let teacher: TeacherSource
        switch (teacherNode["path"]?.string, teacherNode["finetune"]) {
        case (let path?, nil): teacher = .folder(URL(fileURLWithPath: path))
        case (nil, let node?):
            let settings = try decodeSpecNode(FinetuneSettings.self, node: node, origin: "\(origin): teacher.finetune", invalid: { PipelineError.invalid($0) })
            guard settings.from != nil else { throw invalid("teacher.finetune.from: missing (the pretrained folder to fine-tune)") }
            teacher = .finetune(settings)
        default: throw invalid("teacher: give exactly one of `path` and `finetune`")
        }
        guard let data = try decode(DataSection.self, "data") else { throw invalid("data: missing") }
        if setting == .taskSpecific || { if case .finetune = teacher { return true } else { return false } }() {
            guard data.labelField != nil else { throw invalid("data.label_field: a task-specific study and a teacher fine-tune need labelled data") }
        }
        var cache = try decode(CacheSpec.self, "cache")
        if cache != nil { cache!.maxLength = data.maxLength }
        let filters = results.appendingPathComponent(name).appendingPathComponent("ted-filters.safetensors").path
        let base = StudentList.merge(.mapping(["ted_filters": Yams.Node(filters)]), mapping["training"])
        var students: [Student] = []
        for (i, item) in (mapping["students"]?.sequence ?? []).enumerated() {
            let named = try StudentList.student(item, over: base, defaultName: "student-\(i + 1)", origin: "\(origin): students[\(i)]")
            students.append(Student(named: named, group: named.name, objectivesLabel: Self.describe(named.spec.objectives)))
        }
        if let grid = mapping["grid"] { students += try StudentGrid.expand(grid, over: base, origin: "\(origin): grid") }
        _ = try StudentList.checked(students.map(\.named), origin: origin)
        let finetune = try decode(FinetuneSettings.self, "student_finetune")
        if setting == .taskAgnostic && finetune != nil && data.labelField == nil {
            throw invalid("student_finetune needs data.label_field")
        }
        let resources = try decode(Resources.self, "resources")
        do { try resources?.check() } catch PipelineError.invalid(let why) { throw invalid(why) }
        return Pipeline(name: name, source: url, setting: setting, teacher: teacher, data: data, cache: cache, students: students,
                        studentFinetune: finetune, resources: resources)
    }

    static func describe(_ objectives: [ObjectiveKind: Float]) -> String {
        objectives.sorted { $0.key < $1.key }.map { "\($0.key.rawValue)=\(Self.number($0.value))" }.joined(separator: ", ")
    }

    static func number(_ value: Float) -> String { value == value.rounded() ? String(Int(value)) : String(value) }
}

public enum PipelineError: Error, CustomStringConvertible, Equatable {
    case invalid(String)
    case io(String)
    case refused(String)

    public var description: String {
        switch self {
        case .invalid(let why): return "invalid pipeline: \(why)"
        case .io(let why): return why
        case .refused(let why): return why
        }
    }
}
