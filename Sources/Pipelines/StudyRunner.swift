import Bert
import Datasets
import Distillation
import Foundation
import Hashing
import Logging
import Reports
import TeacherCache
import Tokenization

/// Runs a pipeline into `results/<name>/`, one stage task at a time (`StudyJobs`): the teacher
/// (fine-tuned when asked), the training cache (in shards when asked), the merge with dev and
/// test caches and TED filters, the students in shared passes over the cache (task-agnostic ones
/// then fine-tuned), and the report: evaluation of the best checkpoints on dev and test, the
/// results table and report. `run()` is the local executor; a Slurm job runs one task with
/// `run(_:task:)`. Every stage skips work a previous run finished (checked by content hashes of
/// its inputs and settings) and resumes work it left half done, so running the same file again
/// after a crash or Ctrl-C continues where it stopped.
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
    public let jobs: StudyJobs
    let ledger: StudyLedger
    let logger: Logger
    let progress: (Progress) -> Void

    public init(pipeline: Pipeline, results: URL = URL(fileURLWithPath: "results"), logger: Logger,
                progress: @escaping (Progress) -> Void = { _ in }) {
        self.pipeline = pipeline
        self.folder = results.appendingPathComponent(pipeline.name)
        self.jobs = StudyJobs(pipeline)
        self.ledger = StudyLedger(folder: folder)
        self.logger = logger
        self.progress = progress
    }

    var teacherFolder: URL { folder.appendingPathComponent("teacher") }
    var cacheFolder: URL { folder.appendingPathComponent("cache") }
    var studentsFolder: URL { folder.appendingPathComponent("students") }
    public var tedFilters: URL { folder.appendingPathComponent("ted-filters.safetensors") }

    func data(_ path: String?) -> URL? { path.map { URL(fileURLWithPath: $0) } }

    /// The local executor: every task of every job in order, in this process; returns what the report shows.
    public func run() throws -> StudyResults {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        ledger.clearTimings()
        var results: StudyResults?
        for job in jobs.jobs {
            for task in 1...job.tasks { results = try run(job.stage, task: task) ?? results }
        }
        return results!
    }

    /// One task of one stage, as a Slurm job runs it; the report stage returns the results.
    @discardableResult
    public func run(_ stage: StudyJobs.Stage, task: Int = 1) throws -> StudyResults? {
        try jobs.check(stage, task: task)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let start = Date()
        let count = jobs.job(stage)!.tasks
        logger.info("\(pipeline.name): \(stage.rawValue)\(count > 1 ? " \(task)/\(count)" : "")")
        switch stage {
        case .teacher: _ = try teacher(fineTune: true)
        case .cache: try cacheShard(task)
        case .merge: try mergeCaches()
        case .students: try trainStudents(task: task)
        case .report: return try report(started: start)
        }
        try ledger.record(stage: stage, task: task, seconds: Date().timeIntervalSince(start))
        return nil
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

    /// The teacher's folder. A pipeline's fine-tune runs only in the teacher stage (`fineTune`);
    /// later stages require it finished with the current settings and data.
    func teacher(fineTune: Bool) throws -> URL {
        switch pipeline.teacher {
        case .folder(let url):
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent("model.safetensors").path) else {
                throw PipelineError.io("teacher.path \(url.path): no model.safetensors there")
            }
            return url
        case .finetune(let settings):
            let from = URL(fileURLWithPath: settings.from!)
            if fineTune { return try finetune(from: from, settings: settings, into: teacherFolder, label: from.lastPathComponent) }
            guard let model = try finishedFinetune(from: from, settings: settings, in: teacherFolder) else {
                throw PipelineError.refused("\(teacherFolder.path): the teacher is not fine-tuned with this pipeline's settings and data yet; run the teacher stage first")
            }
            return model
        }
    }

    /// What a fine-tune depends on: the model's weights and vocabulary, the data, the settings.
    func finetuneKey(from model: URL, settings: Pipeline.FinetuneSettings) throws -> String {
        let data = pipeline.data
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let spec = try encoder.encode(settings.spec)
        let tokenizer: [URL]
        do { tokenizer = try TokenizerFormat.chosen(in: model).files } catch { throw PipelineError.io("cannot read the tokenizer of \(model.path): \(error)") }
        return try StudyLedger.key(files: [model.appendingPathComponent("model.safetensors")] + tokenizer
                                           + [URL(fileURLWithPath: data.train)] + [self.data(data.dev)].compactMap { $0 },
                                   settings: [String(decoding: spec, as: UTF8.self), "max_length \(settings.maxLength ?? data.maxLength)",
                                              "fields \(data.textField) \(data.pairField ?? "-") \(data.labelField ?? "-") \(data.format?.rawValue ?? "-")"])
    }

    /// The fine-tuned model in `output` when a run with these inputs finished there.
    func finishedFinetune(from model: URL, settings: Pipeline.FinetuneSettings, in output: URL) throws -> URL? {
        // (RunFolder creates its folder: look first, so that a missing run does not look changed.)
        guard FileManager.default.fileExists(atPath: output.path), (try? RunFolder(url: output))?.completedHash != nil,
              ledger.recordedKey(at: output.appendingPathComponent("study-key.json")) == (try finetuneKey(from: model, settings: settings)) else { return nil }
        let best = output.appendingPathComponent("best"), final = output.appendingPathComponent("final")
        return FileManager.default.fileExists(atPath: best.path) ? best : final
    }

    /// A fine-tune (the teacher's, or a task-agnostic student's): skipped when it finished with
    /// the same inputs, resumed when it was interrupted, started over when its inputs changed.
    /// `label` names it on its progress line (one line per model, so each has its own ETA).
    func finetune(from model: URL, settings: Pipeline.FinetuneSettings, into output: URL, label: String) throws -> URL {
        let key = try finetuneKey(from: model, settings: settings)
        if let done = try finishedFinetune(from: model, settings: settings, in: output) {
            logger.info("\(output.path): already fine-tuned")
            return done
        }
        let fm = FileManager.default
        let keyFile = output.appendingPathComponent("study-key.json")
        let started = !((try? fm.contentsOfDirectory(atPath: output.path))?.isEmpty ?? true)
        if started && ledger.recordedKey(at: keyFile) != key {
            logger.notice("\(output.path): the model, data or settings changed since it was fine-tuned; fine-tuning again")
            do { try fm.removeItem(at: output) } catch { throw PipelineError.io("cannot remove \(output.path): \(error.localizedDescription)") }
        }
        try ledger.record(key: key, at: keyFile)
        let data = pipeline.data
        var request = FinetuneRequest(model: model, train: URL(fileURLWithPath: data.train), dev: self.data(data.dev),
                                      readOptions: data.readOptions(labelled: true), output: output)
        request.maxLength = settings.maxLength ?? data.maxLength
        request.spec = settings.spec
        let summary = try TeacherFinetuning.run(request, logger: logger) { report in
            self.progress(Progress(stage: "fine-tune \(label)", done: report.step, total: report.totalSteps,
                                   rate: report.tokensPerSecond, unit: "tokens/s"))
        }
        return summary.model
    }

    /// The cache every student reads: the given one, or the union of what the students need.
    func cacheSpec(teacher: URL) throws -> CacheSpec {
        let config = try BertConfig.load(from: teacher.appendingPathComponent("config.json"))
        return try pipeline.cache ?? CachePlanner.derive(for: pipeline.students.map(\.named), teacher: config,
                                                        labelled: pipeline.setting == .taskSpecific, maxLength: pipeline.data.maxLength)
    }

    struct Caches { var train: URL, dev: URL?, test: URL? }

    var caches: Caches {
        Caches(train: cacheFolder.appendingPathComponent("train.h5"),
               dev: pipeline.data.dev.map { _ in cacheFolder.appendingPathComponent("dev.h5") },
               test: pipeline.data.test.map { _ in cacheFolder.appendingPathComponent("test.h5") })
    }

    func shardName(_ index: Int) -> String { "train-shard-\(index)-of-\(jobs.shards)" }

    /// The cache stage's task: the training split whole (one shard) or its `index`-th shard.
    func cacheShard(_ index: Int) throws {
        let teacher = try teacher(fineTune: false)
        let shard = jobs.shards > 1 ? try ShardSelection(index: index, count: jobs.shards) : nil
        _ = try cache(teacher: teacher, data: URL(fileURLWithPath: pipeline.data.train), name: shard.map { shardName($0.index) } ?? "train",
                      spec: try cacheSpec(teacher: teacher), labelled: pipeline.setting == .taskSpecific, labelMap: nil, shard: shard)
    }

    /// The merge stage: the shards joined into train.h5, then dev and test cached with train's
    /// classes, then TED filters trained when a student needs them.
    func mergeCaches() throws {
        let teacher = try teacher(fineTune: false), spec = try cacheSpec(teacher: teacher)
        let labelled = pipeline.setting == .taskSpecific
        let train = caches.train
        if jobs.shards > 1 {
            if try upToDate(train, spec: spec, teacher: teacher, data: URL(fileURLWithPath: pipeline.data.train)) {
                logger.info("\(train.path): already merged")
            } else {
                let shards = (1...jobs.shards).map { cacheFolder.appendingPathComponent(shardName($0) + ".h5") }
                for shard in shards where !(try upToDate(shard, spec: spec, teacher: teacher, data: URL(fileURLWithPath: pipeline.data.train))) {
                    throw PipelineError.refused("\(shard.path): missing, unfinished or out of date; run the cache stage's task for it first")
                }
                let summary = try CacheMerger.merge(shards, into: train, overwrite: true)
                logger.info("\(train.path): \(summary.shards.count) shards merged, \(summary.sequences) sequences")
            }
        }
        guard try upToDate(train, spec: spec, teacher: teacher, data: URL(fileURLWithPath: pipeline.data.train)) else {
            throw PipelineError.refused("\(train.path): missing, unfinished or out of date; run the cache stage first")
        }
        let classes = try CacheReader(url: train).labelNames.map(LabelMap.init(names:))
        for (split, path) in [("dev", pipeline.data.dev), ("test", pipeline.data.test)] {
            guard let data = data(path) else { continue }
            _ = try cache(teacher: teacher, data: data, name: split, spec: spec, labelled: labelled, labelMap: classes)
        }
        let config = try BertConfig.load(from: teacher.appendingPathComponent("config.json"))
        let tedLayers = try CachePlanner.tedLayers(for: pipeline.students.map(\.named), teacherLayers: config.numHiddenLayers)
        if !tedLayers.isEmpty { try trainTedFilters(layers: tedLayers, caches: caches) }
    }

    /// True when `url` is a complete cache of this spec, built by this teacher from this data.
    func upToDate(_ url: URL, spec: CacheSpec, teacher: URL, data: URL) throws -> Bool {
        guard let reader = try? CacheReader(url: url), reader.spec == spec else { return false }
        let built = reader.provenance
        let weights = try hash(teacher.appendingPathComponent("model.safetensors"))
        let vocabulary: String
        do { vocabulary = try VocabularyIdentity.sha256(of: teacher) } catch { throw PipelineError.io("cannot read the tokenizer of \(teacher.path): \(error)") }
        let dataset = try hash(data)
        return built.teacher.weightsSHA256 == weights && built.teacher.vocabularySHA256 == vocabulary && built.datasets.map(\.sha256) == [dataset]
    }

    func hash(_ file: URL) throws -> String {
        do { return try RememberedHash.file(at: file) } catch { throw PipelineError.io("cannot read \(file.path): \(error)") }
    }

    /// One split's cache (or shard of it): kept when a complete cache of this teacher, data and
    /// spec is there, resumed when an interrupted one is, built afresh otherwise.
    func cache(teacher: URL, data: URL, name: String, spec: CacheSpec, labelled: Bool, labelMap: LabelMap?,
               shard: ShardSelection? = nil) throws -> URL {
        let output = cacheFolder.appendingPathComponent("\(name).h5")
        try FileManager.default.createDirectory(at: cacheFolder, withIntermediateDirectories: true)
        var options = pipeline.data.readOptions(labelled: labelled)
        options.labelMap = labelMap ?? options.labelMap
        if try upToDate(output, spec: spec, teacher: teacher, data: data) {
            logger.info("\(output.path): already cached")
            return output
        }
        var request = CacheRequest(teacher: teacher, data: [data], readOptions: options, spec: spec, output: output)
        request.shard = shard
        let partial = FileManager.default.fileExists(atPath: output.path + ".partial")
        request.resume = partial
        request.overwrite = !partial
        let summary = try CacheBuilder.build(request, logger: logger) { p in
            self.progress(Progress(stage: "cache \(name)", done: p.sequencesDone, total: p.sequencesTotal, rate: p.tokensPerSecond, unit: "tokens/s"))
        }
        return summary.output
    }

    /// TED's teacher filters, trained again when the training cache they learn from changed.
    func trainTedFilters(layers: [Int], caches: Caches) throws {
        let built = try CacheReader(url: caches.train).provenance
        let key = try StudyLedger.key(files: [], settings: [built.teacher.weightsSHA256, built.datasets.map(\.sha256).joined(separator: " "),
                                                            "layers \(layers)"])
        let keyFile = folder.appendingPathComponent("ted-filters.key.json")
        if FileManager.default.fileExists(atPath: tedFilters.path) && ledger.recordedKey(at: keyFile) == key {
            logger.info("\(tedFilters.path): already trained")
            return
        }
        var spec = TeacherFilterSpec()
        spec.layers = layers
        let training = try TeacherFilterTraining(spec: spec, cache: caches.train, logger: logger)
        let summary = try training.train(dev: caches.dev) { step in
            self.progress(Progress(stage: "TED filters", done: step.step, total: step.totalSteps, rate: step.sequencesPerSecond, unit: "sequences/s"))
        }
        try training.save(to: tedFilters, summary: summary)
        try ledger.record(key: key, at: keyFile)
    }

    /// A students task: its students in shared passes over the cache, each one's outcome recorded
    /// for the report; task-agnostic students that trained are then fine-tuned.
    func trainStudents(task: Int) throws {
        let teacher = try teacher(fineTune: false)
        let names = Set(jobs.studentTasks[task - 1])
        let students = pipeline.students.filter { names.contains($0.named.name) }.map { s -> NamedStudent in
            var named = s.named
            if named.spec.objectives[.ted] != nil && named.spec.tedFilters == nil { named.spec.tedFilters = tedFilters.path }
            return named
        }
        let launch = StudentLaunch(students: students, cache: caches.train, dev: caches.dev, teacher: teacher,
                                   folder: { self.studentsFolder.appendingPathComponent($0.name) }, options: .init(resume: true, restartChanged: true), logger: logger)
        for (name, error) in launch.rejected { logger.error("\(name): \(error)") }
        for (name, _) in launch.skipped { logger.info("\(name): already trained") }
        var outcomes: [StudentGroup.Outcome] = []
        if !launch.members.isEmpty {
            let group = StudentGroup(members: launch.members, logger: logger)
            // Each task its own progress line (a line's rate and ETA count from its first report).
            let tasks = jobs.studentTasks.count
            let label = "train \(launch.members.count) students" + (tasks > 1 ? " (task \(task)/\(tasks))" : "")
            outcomes = try group.run(progress: { p in
                self.progress(Progress(stage: label, done: p.stepsDone, total: p.stepsTotal,
                                       rate: p.tokensPerSecond, unit: "tokens/s"))
            })
        }
        var succeeded: [String] = []
        for (name, status) in launch.statuses(after: outcomes) {
            try ledger.record(student: name, status)
            if status.succeeded { succeeded.append(name) }
        }
        if let settings = pipeline.studentFinetune {
            for name in students.map(\.name) where succeeded.contains(name) {
                let run = studentsFolder.appendingPathComponent(name)
                _ = try finetune(from: trainedModel(run), settings: settings, into: run.appendingPathComponent("finetuned"), label: name)
            }
        }
    }

    /// A student's best checkpoint (by the dev score), or its final one when there was no dev set.
    func trainedModel(_ run: URL) -> URL {
        let best = run.appendingPathComponent("best")
        return FileManager.default.fileExists(atPath: best.path) ? best : run.appendingPathComponent("final")
    }

    /// The report stage: every model scored on dev and test, the table and the report written.
    func report(started: Date) throws -> StudyResults {
        let teacher = try teacher(fineTune: false)
        let config = try BertConfig.load(from: teacher.appendingPathComponent("config.json"))
        let evaluation = try evaluationCaches(teacher: teacher, caches: caches)
        let teacherModel = try BertModel.load(directory: teacher)
        let evaluating = Date(), models = 1 + pipeline.students.count
        func scored(_ done: Int) {
            progress(Progress(stage: "evaluate \(models) models", done: done, total: models,
                              rate: Double(done) / max(Date().timeIntervalSince(evaluating), 1e-3) * 60, unit: "models/min"))
        }
        var results = StudyResults(name: pipeline.name,
                                   teacher: TeacherResult(name: "teacher", path: teacher.path, parameters: teacherModel.layout.count,
                                                          size: "\(config.numHiddenLayers)×\(config.hiddenSize)",
                                                          dev: try metrics(teacherModel, teacher, evaluation.dev),
                                                          test: try metrics(teacherModel, teacher, evaluation.test)),
                                   students: [], cacheComponents: try cacheComponents(caches.train), stages: [])
        scored(1)
        for student in pipeline.students {
            let name = student.named.name, spec = student.named.spec
            let run = studentsFolder.appendingPathComponent(name)
            var result = try StudentResult(name: name, group: student.group, seed: spec.seed,
                                           objectives: student.objectivesColumn,
                                           initialization: spec.student.initialization.description, mapping: Self.mapping(spec),
                                           size: "\(spec.student.layers)×\(spec.student.hiddenSize ?? config.hiddenSize)",
                                           runFolder: run)
            let outcome = ledger.outcome(of: name)
            var model = trainedModel(run)
            if let settings = pipeline.studentFinetune {
                model = try finishedFinetune(from: model, settings: settings, in: run.appendingPathComponent("finetuned")) ?? model
            }
            if let status = outcome, !status.succeeded {
                result.status = status.shown
            } else if (try? RunFolder(url: run))?.completedHash != nil, FileManager.default.fileExists(atPath: model.path) {
                if let status = outcome { result.status = status.shown }
                let loaded = try BertModel.load(directory: model)
                result.parameters = loaded.layout.count
                result.dev = try metrics(loaded, model, evaluation.dev)
                result.test = try metrics(loaded, model, evaluation.test)
            } else {
                result.status = "failed: not trained (its students task did not finish)"
            }
            results.students.append(result)
            scored(1 + results.students.count)
        }
        try ledger.record(stage: .report, task: 1, seconds: Date().timeIntervalSince(started))
        results.stages = ledger.stageTimings()
        try StudyReport.write(results, to: folder)
        return results
    }

    /// Labelled caches to score models on: the study's own when they hold labels, else
    /// inputs-only labelled caches of dev and test (task-agnostic studies).
    func evaluationCaches(teacher: URL, caches: Caches) throws -> (dev: URL?, test: URL?) {
        guard pipeline.data.labelField != nil else { return (nil, nil) }
        if pipeline.setting == .taskSpecific { return (caches.dev, caches.test) }
        var inputs = CacheSpec()
        inputs.maxLength = pipeline.data.maxLength
        let train = try cache(teacher: teacher, data: URL(fileURLWithPath: pipeline.data.train), name: "labels-train", spec: inputs, labelled: true, labelMap: nil)
        let classes = try CacheReader(url: train).labelNames.map(LabelMap.init(names:))
        return (try data(pipeline.data.dev).map { try cache(teacher: teacher, data: $0, name: "labels-dev", spec: inputs, labelled: true, labelMap: classes) },
                try data(pipeline.data.test).map { try cache(teacher: teacher, data: $0, name: "labels-test", spec: inputs, labelled: true, labelMap: classes) })
    }

    /// Scores of a model (loaded once by the caller from `folder`) on a labelled cache; none without a classifier.
    func metrics(_ model: BertModel, _ folder: URL, _ cache: URL?) throws -> [String: Double] {
        guard let cache, model.heads.classifierLabels > 1 else { return [:] }
        let m = try ModelEvaluation.classification(model: model, from: folder, cache: cache)
        var values = ["accuracy": m.accuracy, "macro_f1": m.macroF1]
        if let mcc = m.matthews { values["matthews"] = mcc }
        return values
    }

    func cacheComponents(_ url: URL) throws -> [CacheComponent] {
        let report = try CacheReport.read(url)
        return report.components.map { CacheComponent(name: $0.name, storedBytes: $0.storedBytes, bytesPerToken: Double($0.storedBytes) / Double(max(1, report.tokens))) }
    }
}
