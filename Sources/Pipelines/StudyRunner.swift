import Bert
import Datasets
import Distillation
import Foundation
import Logging
import Reports
import TeacherCache

/// Runs a pipeline end to end into `results/<name>/`: the teacher (fine-tuned when asked), the
/// caches (once), TED filters when a student needs them, every student in shared passes over the
/// cache, the task-agnostic students' fine-tunes, evaluation of the best checkpoints on dev and
/// test, and the results table and report. Every stage skips work a previous run finished and
/// resumes work it left half done, so running the same file again after a crash or Ctrl-C
/// continues where it stopped.
public final class StudyRunner {
    /// One line per stage for people: what runs, how far it is, how fast.
    public struct Progress: Sendable {
        public var stage: String
        public var done: Int, total: Int
        public var rate: Double
        public var unit: String
    }

    public let pipeline: Pipeline
    public let folder: URL
    let logger: Logger
    let progress: (Progress) -> Void
    var stages: [StageTiming] = []

    public init(pipeline: Pipeline, results: URL = URL(fileURLWithPath: "results"), logger: Logger,
                progress: @escaping (Progress) -> Void = { _ in }) {
        self.pipeline = pipeline
        self.folder = results.appendingPathComponent(pipeline.name)
        self.logger = logger
        self.progress = progress
    }

    var teacherFolder: URL { folder.appendingPathComponent("teacher") }
    var cacheFolder: URL { folder.appendingPathComponent("cache") }
    var studentsFolder: URL { folder.appendingPathComponent("students") }
    public var tedFilters: URL { folder.appendingPathComponent("ted-filters.safetensors") }

    func timed<T>(_ stage: String, _ body: () throws -> T) rethrows -> T {
        let start = Date()
        defer { stages.append(StageTiming(name: stage, seconds: Date().timeIntervalSince(start))) }
        logger.info("\(pipeline.name): \(stage)")
        return try body()
    }

    func data(_ path: String?) -> URL? { path.map { URL(fileURLWithPath: $0) } }

    /// The study, start to finish; returns what the report shows.
    public func run() throws -> StudyResults {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let teacher = try timed("teacher") { try prepareTeacher() }
        let labelled = pipeline.setting == .taskSpecific
        let config = try BertConfig.load(from: teacher.appendingPathComponent("config.json"))
        let spec = try pipeline.cache ?? CachePlanner.derive(for: pipeline.students.map(\.named), teacher: config, labelled: labelled,
                                                            maxLength: pipeline.data.maxLength)
        let caches = try timed("cache") { try buildCaches(teacher: teacher, spec: spec, labelled: labelled) }
        let tedLayers = try CachePlanner.tedLayers(for: pipeline.students.map(\.named), teacherLayers: config.numHiddenLayers)
        if !tedLayers.isEmpty { try timed("TED filters") { try trainTedFilters(layers: tedLayers, caches: caches) } }
        let (outcomes, skipped) = try timed("students") { try trainStudents(teacher: teacher, caches: caches) }
        var models: [String: URL] = [:]
        for student in pipeline.students {
            let run = studentsFolder.appendingPathComponent(student.named.name)
            let best = run.appendingPathComponent("best"), final = run.appendingPathComponent("final")
            models[student.named.name] = FileManager.default.fileExists(atPath: best.path) ? best : final
        }
        if let settings = pipeline.studentFinetune {
            try timed("student fine-tune") {
                for student in pipeline.students where outcomes[student.named.name] == nil {
                    let name = student.named.name
                    models[name] = try finetune(from: models[name]!, settings: settings, into: studentsFolder.appendingPathComponent(name).appendingPathComponent("finetuned"))
                }
            }
        }
        let evaluation = try timed("evaluate") { try evaluationCaches(teacher: teacher, caches: caches) }
        // Scores of the teacher and of every student's best checkpoint follow.
        let teacherModel = try BertModel.load(directory: teacher)
        var results = StudyResults(name: pipeline.name,
                                   teacher: TeacherResult(name: "teacher", path: teacher.path, parameters: teacherModel.layout.count,
                                                          size: "\(config.numHiddenLayers)×\(config.hiddenSize)",
                                                          dev: try metrics(teacher, evaluation.dev), test: try metrics(teacher, evaluation.test)),
                                   students: [], cacheComponents: try cacheComponents(caches.train), stages: [])
        for student in pipeline.students {
            let name = student.named.name, spec = student.named.spec
            var result = try StudentResult(name: name, group: student.group, seed: spec.seed,
                                           objectives: student.objectivesLabel + " (" + Pipeline.describe(spec.objectives) + ")",
                                           initialization: spec.student.initialization.description, mapping: Self.mapping(spec),
                                           size: "\(spec.student.layers)×\(spec.student.hiddenSize ?? config.hiddenSize)",
                                           runFolder: studentsFolder.appendingPathComponent(name))
            if let failure = outcomes[name] {
                result.status = "failed: \(failure)"
            } else if let model = models[name], FileManager.default.fileExists(atPath: model.path) {
                if skipped.contains(name) { result.status = "skipped (already trained)" }
                result.parameters = try BertModel.load(directory: model).layout.count
                result.dev = try metrics(model, evaluation.dev)
                result.test = try metrics(model, evaluation.test)
            }
            results.students.append(result)
        }
        results.stages = stages
        try write(results)
        return results
    }

    static func mapping(_ spec: TrainSpec) -> String {
        var parts: [String] = []
        let kinds = Set(spec.objectives.keys)
        if kinds.contains(.hiddenMSE) || kinds.contains(.hiddenCosine) { parts.append("hidden \(spec.hiddenMapping)") }
        if kinds.contains(.attentionKL) || kinds.contains(.attentionScores) || kinds.contains(.valueRelation) { parts.append("attention \(spec.attentionMapping)") }
        if kinds.contains(.relations) { parts.append("relations \(spec.relationMapping)") }
        if kinds.contains(.ted) { parts.append("ted \(spec.tedMapping)") }
        return parts.isEmpty ? "—" : parts.joined(separator: " · ")
    }

    // MARK: stages

    func prepareTeacher() throws -> URL {
        switch pipeline.teacher {
        case .folder(let url):
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent("model.safetensors").path) else {
                throw PipelineError.io("teacher.path \(url.path): no model.safetensors there")
            }
            return url
        case .finetune(let settings):
            return try finetune(from: URL(fileURLWithPath: settings.from!), settings: settings, into: teacherFolder)
        }
    }

    /// A fine-tune (the teacher's, or a task-agnostic student's), skipped when its run folder finished.
    func finetune(from model: URL, settings: Pipeline.FinetuneSettings, into output: URL) throws -> URL {
        let best = output.appendingPathComponent("best"), final = output.appendingPathComponent("final")
        if (try? RunFolder(url: output))?.completedHash != nil {
            logger.info("\(output.path): already fine-tuned")
            return FileManager.default.fileExists(atPath: best.path) ? best : final
        }
        let data = pipeline.data
        var request = FinetuneRequest(model: model, train: URL(fileURLWithPath: data.train), dev: self.data(data.dev),
                                      readOptions: data.readOptions(labelled: true), output: output)
        request.maxLength = settings.maxLength ?? data.maxLength
        request.spec = settings.spec
        let summary = try TeacherFinetuning.run(request, logger: logger) { report in
            self.progress(Progress(stage: "fine-tune \(model.lastPathComponent)", done: report.step, total: report.totalSteps,
                                   rate: report.tokensPerSecond, unit: "tokens/s"))
        }
        return summary.model
    }

    struct Caches { var train: URL, dev: URL?, test: URL? }

    func buildCaches(teacher: URL, spec: CacheSpec, labelled: Bool) throws -> Caches {
        try FileManager.default.createDirectory(at: cacheFolder, withIntermediateDirectories: true)
        let train = try cache(teacher: teacher, data: URL(fileURLWithPath: pipeline.data.train), split: "train", spec: spec, labelled: labelled, labelMap: nil)
        let classes = try CacheReader(url: train).labelNames.map(LabelMap.init(names:))
        return Caches(train: train,
                      dev: try data(pipeline.data.dev).map { try cache(teacher: teacher, data: $0, split: "dev", spec: spec, labelled: labelled, labelMap: classes) },
                      test: try data(pipeline.data.test).map { try cache(teacher: teacher, data: $0, split: "test", spec: spec, labelled: labelled, labelMap: classes) })
    }

    /// One split's cache: kept when a complete cache of this teacher, data and spec is there,
    /// resumed when an interrupted one is, built otherwise.
    func cache(teacher: URL, data: URL, split: String, spec: CacheSpec, labelled: Bool, labelMap: LabelMap?, name: String? = nil) throws -> URL {
        let output = cacheFolder.appendingPathComponent("\(name ?? split).h5")
        var options = pipeline.data.readOptions(labelled: labelled)
        options.labelMap = labelMap ?? options.labelMap
        if let reader = try? CacheReader(url: output), reader.spec == spec {
            logger.info("\(output.path): already cached")
            return output
        }
        var request = CacheRequest(teacher: teacher, data: [data], readOptions: options, spec: spec, output: output)
        let partial = FileManager.default.fileExists(atPath: output.path + ".partial")
        request.resume = partial
        request.overwrite = !partial
        let summary = try CacheBuilder.build(request, logger: logger) { p in
            self.progress(Progress(stage: "cache \(name ?? split)", done: p.sequencesDone, total: p.sequencesTotal, rate: p.tokensPerSecond, unit: "tokens/s"))
        }
        return summary.output
    }

    func trainTedFilters(layers: [Int], caches: Caches) throws {
        if FileManager.default.fileExists(atPath: tedFilters.path) { logger.info("\(tedFilters.path): already trained"); return }
        var spec = TeacherFilterSpec()
        spec.layers = layers
        let training = try TeacherFilterTraining(spec: spec, cache: caches.train, logger: logger)
        let summary = try training.train(dev: caches.dev) { step in
            self.progress(Progress(stage: "TED filters", done: step.step, total: step.totalSteps, rate: step.sequencesPerSecond, unit: "sequences/s"))
        }
        try training.save(to: tedFilters, summary: summary)
    }

    /// Every student, in shared passes; returns the failures by student name, and the students
    /// a previous run finished.
    func trainStudents(teacher: URL, caches: Caches) throws -> (failures: [String: String], skipped: Set<String>) {
        let students = pipeline.students.map { s -> NamedStudent in
            var named = s.named
            if named.spec.objectives[.ted] != nil && named.spec.tedFilters == nil { named.spec.tedFilters = tedFilters.path }
            return named
        }
        let launch = StudentLaunch(students: students, cache: caches.train, dev: caches.dev, teacher: teacher,
                                   folder: { self.studentsFolder.appendingPathComponent($0.name) }, options: .init(resume: true, restartChanged: true), logger: logger)
        var failures: [String: String] = [:]
        for (name, error) in launch.rejected { failures[name] = "\(error)"; logger.error("\(name): \(error)") }
        for (name, _) in launch.skipped { logger.info("\(name): already trained") }
        let skipped = Set(launch.skipped.map(\.name))
        guard !launch.members.isEmpty else { return (failures, skipped) }
        let group = StudentGroup(members: launch.members, logger: logger)
        for outcome in try group.run(progress: { p in
            self.progress(Progress(stage: "train \(launch.members.count) students", done: p.stepsDone, total: p.stepsTotal,
                                   rate: p.tokensPerSecond, unit: "tokens/s"))
        }) {
            if let error = outcome.error { failures[outcome.name] = "\(error)" }
        }
        return (failures, skipped)
    }

    /// Labelled caches to score models on: the study's own when they hold labels, else
    /// inputs-only labelled caches of dev and test (task-agnostic studies).
    func evaluationCaches(teacher: URL, caches: Caches) throws -> (dev: URL?, test: URL?) {
        guard pipeline.data.labelField != nil else { return (nil, nil) }
        if pipeline.setting == .taskSpecific { return (caches.dev, caches.test) }
        var inputs = CacheSpec()
        inputs.maxLength = pipeline.data.maxLength
        let train = try cache(teacher: teacher, data: URL(fileURLWithPath: pipeline.data.train), split: "train", spec: inputs, labelled: true, labelMap: nil, name: "labels-train")
        let classes = try CacheReader(url: train).labelNames.map(LabelMap.init(names:))
        return (try data(pipeline.data.dev).map { try cache(teacher: teacher, data: $0, split: "dev", spec: inputs, labelled: true, labelMap: classes, name: "labels-dev") },
                try data(pipeline.data.test).map { try cache(teacher: teacher, data: $0, split: "test", spec: inputs, labelled: true, labelMap: classes, name: "labels-test") })
    }

    func metrics(_ model: URL, _ cache: URL?) throws -> [String: Double] {
        guard let cache, (try? BertModel.load(directory: model))?.heads.classifierLabels ?? 0 > 1 else { return [:] }
        let m = try ModelEvaluation.classification(model: model, cache: cache)
        var values = ["accuracy": m.accuracy, "macro_f1": m.macroF1]
        if let mcc = m.matthews { values["matthews"] = mcc }
        return values
    }

    func cacheComponents(_ url: URL) throws -> [CacheComponent] {
        let report = try CacheReport.read(url)
        return report.components.map { CacheComponent(name: $0.name, storedBytes: $0.storedBytes, bytesPerToken: Double($0.storedBytes) / Double(max(1, report.tokens))) }
    }

    func write(_ results: StudyResults) throws {
        try StudyReport.write(results, to: folder)
    }
}
