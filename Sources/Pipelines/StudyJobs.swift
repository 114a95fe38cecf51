import Distillation
import Foundation

/// A study as jobs, the unit both executors run: `--executor local` runs every task of every job
/// in order in one process, `--executor slurm` submits each job (an array when it has several
/// tasks) with the jobs it waits for as dependencies. Same jobs, same stages, same files — so a
/// cluster run and a local run of one pipeline give the same caches, students and table.
public struct StudyJobs: Sendable {
    public enum Stage: String, CaseIterable, Sendable {
        /// Fine-tunes the teacher (only when the pipeline asks for it).
        case teacher
        /// Caches one shard of the training split (`resources.shards`, default 1).
        case cache
        /// Merges the shards (virtual datasets), caches dev and test, trains TED filters if needed.
        case merge
        /// Trains one task's students in one shared pass over the cache (task-agnostic: then fine-tunes them).
        case students
        /// Scores the teacher and every student on dev and test; writes the table and the report.
        case report
    }

    public struct Job: Sendable {
        public var stage: Stage
        /// Tasks of the job (a Slurm array of that size when more than one), numbered from 1.
        public var tasks: Int
        /// The job that must finish first (Slurm: `afterok`; the report: `afterany`, so it also reports failures).
        public var after: Stage?
    }

    public var jobs: [Job]
    /// Train shards cached by the `cache` job.
    public var shards: Int
    /// Student names per `students` task: students that share a cache pass (batch size and data
    /// order) stay together, at most `resources.students_per_task` per task — by default as many
    /// as fit in memory (`StudentMemory`).
    public var studentTasks: [[String]]

    public init(_ pipeline: Pipeline) {
        shards = pipeline.resources?.shards ?? 1
        var passes: [String: [String]] = [:], order: [String] = []
        for student in pipeline.students {
            let key = "\(student.named.spec.batchSize)/\(student.named.spec.dataSeed)"
            if passes[key] == nil { order.append(key) }
            passes[key, default: []].append(student.named.name)
        }
        let perTask = pipeline.resources?.studentsPerTask ?? StudentMemory.studentsPerTask(pipeline) ?? Int.max
        studentTasks = order.flatMap { key -> [[String]] in
            let names = passes[key]!
            return stride(from: 0, to: names.count, by: perTask).map { Array(names[$0..<min(names.count, $0 + perTask)]) }
        }
        var jobs: [Job] = []
        if case .finetune = pipeline.teacher { jobs.append(Job(stage: .teacher, tasks: 1, after: nil)) }
        jobs.append(Job(stage: .cache, tasks: shards, after: jobs.last?.stage))
        jobs.append(Job(stage: .merge, tasks: 1, after: .cache))
        if !studentTasks.isEmpty { jobs.append(Job(stage: .students, tasks: studentTasks.count, after: .merge)) }
        jobs.append(Job(stage: .report, tasks: 1, after: jobs.last?.stage))
        self.jobs = jobs
    }

    public func job(_ stage: Stage) -> Job? { jobs.first { $0.stage == stage } }

    /// Checks a task number given on the command line (`--stage S --task K`).
    public func check(_ stage: Stage, task: Int) throws {
        guard let job = job(stage) else { throw PipelineError.invalid("this pipeline has no \(stage.rawValue) stage") }
        guard (1...job.tasks).contains(task) else {
            throw PipelineError.invalid("--task \(task): the \(stage.rawValue) stage has tasks 1…\(job.tasks)")
        }
    }
}
