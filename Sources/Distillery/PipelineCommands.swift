import ArgumentParser
import Distillation
import Foundation
import Logging
import Pipelines
import Reports

/// `distillery plan FILE`: what a pipeline would run, its cache size and time, before running it.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what a pipeline will run: the cache and its size on disk (measured on a sample), the students, the estimated time.",
        discussion: "The pipeline file is validated against schemas/pipeline.schema.json first; every invalid field is named by its path."
    )

    @Argument(help: "A pipeline file (pipelines/*.yaml).") var file: String
    @Option(help: "Folder the results go to (default results/).") var results = "results"
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        threads.apply()
        var logger = Logger(label: "distillery.plan")
        logger.logLevel = .warning
        let pipeline = try Pipeline.load(URL(fileURLWithPath: file), results: URL(fileURLWithPath: results))
        let plan = try StudyPlan.make(pipeline, results: URL(fileURLWithPath: results), logger: logger)
        print(plan.description)
        try plan.checkDisk(results: URL(fileURLWithPath: results))
    }
}

/// `distillery run FILE`: the whole study, here or on Slurm.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pipeline: fine-tune the teacher if asked, cache once, train every student, evaluate, write results/<name>/.",
        discussion: """
        Writes results/<name>/results.md, results.csv, results.json (one row per student group, \
        mean ± std over seeds), report.html (learning curves, scores against the teacher, cache \
        size per component), and the teacher, cache and students' run folders. Running the same \
        file again skips finished stages and students and resumes interrupted ones.

        The study is a chain of jobs: teacher (when fine-tuned), cache (one task per shard, \
        resources.shards), merge (shards, dev/test caches, TED filters), students (one task per \
        group sharing a cache pass, at most resources.students_per_task each), report. \
        --executor local (the default) runs them here in order; --executor slurm writes a batch \
        script per job to results/<name>/slurm/ and submits them with sbatch as dependent jobs \
        (job arrays for several tasks), asking for resources.cpus, memory_gb, time_minutes, \
        partition and account. --stage S --task K runs one task, as the batch scripts do.
        """
    )

    enum Executor: String, ExpressibleByArgument, CaseIterable { case local, slurm }

    @Argument(help: "A pipeline file (pipelines/*.yaml).") var file: String
    @Option(help: "Folder the results go to (default results/).") var results = "results"
    @Option(help: "Where the jobs run: local (here, in order) or slurm (submitted with sbatch).") var executor: Executor = .local
    @Option(help: "Run only this stage's task (teacher, cache, merge, students, report); what the Slurm scripts call.")
    var stage: String?
    @Option(help: "With --stage: the task number, from 1 (a shard of the cache stage, a group of the students stage).")
    var task = 1
    @Flag(help: "With --executor slurm: write the batch scripts and show the sbatch commands, submit nothing.")
    var dryRun = false
    @Flag(help: "With --executor slurm: wait for the jobs to end, then print the table (exit 1 if any job failed).")
    var wait = false
    @Option(help: "With --executor slurm: the distillery binary the jobs run (default: this one).")
    var binary: String?
    @Flag(help: "Wait for another run of this study (results/<name>/study.lock) to end instead of refusing to start.")
    var waitLock = false
    @OptionGroup var threads: ThreadOptions

    func validate() throws {
        if let stage, StudyJobs.Stage(rawValue: stage) == nil {
            throw ValidationError("--stage \(stage): expected one of \(StudyJobs.Stage.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if stage != nil && executor == .slurm { throw ValidationError("--stage runs one task here; it does not go with --executor slurm") }
        if (dryRun || wait || binary != nil) && executor != .slurm { throw ValidationError("--dry-run, --wait and --binary go with --executor slurm") }
        if task < 1 { throw ValidationError("--task counts from 1") }
    }

    func run() throws {
        threads.apply()
        InterruptRequest.shared.install()
        var logger = Logger(label: "distillery.run")
        logger.logLevel = .notice
        let resultsURL = URL(fileURLWithPath: results)
        let pipeline = try Pipeline.load(URL(fileURLWithPath: file), results: resultsURL)
        // One run of a study at a time: a task shares the study with its siblings, a whole run does not.
        let task = stage.flatMap(StudyJobs.Stage.init(rawValue:))
        let lock = try StudyLock(folder: resultsURL.appendingPathComponent(pipeline.name), scope: task.map { .task($0, self.task) } ?? .study,
                                 wait: waitLock) { FileHandle.standardError.write(Data("\($0)\n".utf8)) }
        if let note = lock.tookOver { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
        defer { lock.release() }
        if let stage = task {
            try runHere(pipeline, stage: stage, logger: logger)
            return
        }
        if !dryRun { try SlurmExecutor.refuseIfJobsActive(study: resultsURL.appendingPathComponent(pipeline.name)) }
        let plan = try StudyPlan.make(pipeline, results: resultsURL, logger: logger)
        print(plan.description)
        try plan.checkDisk(results: resultsURL)
        switch executor {
        case .local:
            try runHere(pipeline, stage: nil, logger: logger)
        case .slurm:
            // The jobs take the study lock themselves (shared): released before the first can start.
            try submit(pipeline, logger: logger, before: lock.release)
        }
    }

    /// A progress bar per stage on the terminal.
    func runner(_ pipeline: Pipeline, logger: Logger) -> (StudyRunner, () -> Void) {
        var bar: ProgressReporter?, stage = ""
        let runner = StudyRunner(pipeline: pipeline, results: URL(fileURLWithPath: results), logger: logger) { p in
            if p.stage != stage {
                bar?.finish()
                stage = p.stage
                bar = ProgressReporter(label: p.stage)
            }
            bar?.update(done: p.done, total: p.total, rate: p.rate, unit: p.unit)
        }
        return (runner, { bar?.finish() })
    }

    /// The whole study here (`stage` nil), or one task of one stage; prints the table when the report ran.
    func runHere(_ pipeline: Pipeline, stage: StudyJobs.Stage?, logger: Logger) throws {
        let (runner, finish) = runner(pipeline, logger: logger)
        do {
            let outcome = try stage.map { try runner.run($0, task: task) } ?? runner.run()
            finish()
            if let outcome {
                try printTable(runner.folder, stages: outcome.stages)
                try failIfAnyFailed(outcome)
            }
        } catch DistillationError.interrupted(let signal, let detail) {
            finish()
            FileHandle.standardError.write(Data("interrupted: \(detail); run the same \(stage == nil ? "command" : "task") again to continue\n".utf8))
            throw ExitCode(128 + signal)
        }
    }

    func submit(_ pipeline: Pipeline, logger: Logger, before submitting: () -> Void) throws {
        let directory = FileManager.default.currentDirectoryPath
        let binary = binary ?? CommandLine.arguments[0]
        let absolute = binary.hasPrefix("/") ? binary : URL(fileURLWithPath: binary, relativeTo: URL(fileURLWithPath: directory, isDirectory: true)).standardizedFileURL.path
        let executor = try SlurmExecutor(pipeline: pipeline, options: .init(binary: absolute, directory: directory, pipelineFile: file, results: results))
        let submitted = try executor.submit(dryRun: dryRun, beforeSubmitting: submitting) { print($0) }
        print("scripts and job logs: \(executor.folder.path)")
        guard wait && !dryRun else { return }
        let failed = try SlurmExecutor.wait(for: submitted) { print("slurm: \($0)") }
        let folder = URL(fileURLWithPath: results).appendingPathComponent(pipeline.name)
        if FileManager.default.fileExists(atPath: folder.appendingPathComponent("results.md").path), failed.allSatisfy({ !$0.hasPrefix("report") }) {
            try printTable(folder, stages: [])
        }
        if !failed.isEmpty {
            FileHandle.standardError.write(Data("error: jobs that did not complete: \(failed.joined(separator: ", ")); logs in \(executor.folder.path)\n".utf8))
            throw ExitCode(1)
        }
    }

    func printTable(_ folder: URL, stages: [StageTiming]) throws {
        print(try String(contentsOf: folder.appendingPathComponent("results.md"), encoding: .utf8))
        if !stages.isEmpty { print("stages: " + stages.map { String(format: "%@ %.0f s", $0.name, $0.seconds) }.joined(separator: ", ")) }
        print("report: \(folder.appendingPathComponent("report.html").path)")
    }

    func failIfAnyFailed(_ outcome: StudyResults) throws {
        let failed = outcome.students.filter(\.failed)
        guard failed.isEmpty else {
            for s in failed { FileHandle.standardError.write(Data("error: \(s.name): \(s.status)\n".utf8)) }
            throw ExitCode(1)
        }
    }
}
