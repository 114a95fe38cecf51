import ArgumentParser
import Distillation
import Foundation
import Logging
import Pipelines

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

/// `distillery run FILE`: the whole study.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pipeline: fine-tune the teacher if asked, cache once, train every student, evaluate, write results/<name>/.",
        discussion: """
        Writes results/<name>/results.md, results.csv, results.json (one row per student group, \
        mean ± std over seeds), report.html (learning curves, scores against the teacher, cache \
        size per component), and the teacher, cache and students' run folders. Running the same \
        file again skips finished stages and students and resumes interrupted ones.
        """
    )

    @Argument(help: "A pipeline file (pipelines/*.yaml).") var file: String
    @Option(help: "Folder the results go to (default results/).") var results = "results"
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        threads.apply()
        InterruptRequest.shared.install()
        var logger = Logger(label: "distillery.run")
        logger.logLevel = .notice
        let resultsURL = URL(fileURLWithPath: results)
        let pipeline = try Pipeline.load(URL(fileURLWithPath: file), results: resultsURL)
        let plan = try StudyPlan.make(pipeline, results: resultsURL, logger: logger)
        print(plan.description)
        try plan.checkDisk(results: resultsURL)
        var bar: ProgressReporter?, stage = ""
        let runner = StudyRunner(pipeline: pipeline, results: resultsURL, logger: logger) { p in
            if p.stage != stage {
                bar?.finish()
                stage = p.stage
                bar = ProgressReporter(label: p.stage)
            }
            bar?.update(done: p.done, total: p.total, rate: p.rate, unit: p.unit)
        }
        do {
            let outcome = try runner.run()
            bar?.finish()
            print(try String(contentsOf: runner.folder.appendingPathComponent("results.md"), encoding: .utf8))
            print("stages: " + outcome.stages.map { String(format: "%@ %.0f s", $0.name, $0.seconds) }.joined(separator: ", "))
            print("report: \(runner.folder.appendingPathComponent("report.html").path)")
            let failed = outcome.students.filter { $0.status.hasPrefix("failed") }
            if !failed.isEmpty {
                for s in failed { FileHandle.standardError.write(Data("error: \(s.name): \(s.status)\n".utf8)) }
                throw ExitCode(1)
            }
        } catch DistillationError.interrupted(let signal, let detail) {
            bar?.finish()
            FileHandle.standardError.write(Data("interrupted: \(detail); run the same command again to continue\n".utf8))
            throw ExitCode(128 + signal)
        }
    }
}
