import Dispatch
import Foundation
import Kernels
import Logging
import TeacherCache

/// Where a pass stands in the cache, or where a student continues.
public struct PassPosition: Equatable, Sendable {
    public var epoch: Int
    /// Batches of this epoch already done.
    public var batch: Int
}

/// The training loop. Many students, one pass over the cache: the pass owns the position (epoch,
/// batch) and, per batch, reads once (the union of what every student needs), has each due
/// student update, then logs, evaluates and checkpoints them, and stops on a signal. Students that
/// share a batch size and data seed share a pass; other combinations get a pass each.
///
/// Two ways to spend the cores on a batch: `sequential` trains the students one after another,
/// each using every thread; `concurrent` trains them side by side, one thread each (BLAS is
/// single-threaded either way). `auto` times a few batches each way and keeps the faster.
/// A student's updates do not depend on the schedule: every kernel splits work by output
/// element and reduces in a fixed order, so the same seeds give the same student alone or in a
/// group.
public final class StudentGroup {
    public struct Member {
        public var trainer: StudentTrainer
        public var run: RunFolder?
        public var dev: URL?
        /// Continue from the run folder's checkpoint when there is one.
        public var resume: Bool

        public init(trainer: StudentTrainer, run: RunFolder?, dev: URL?, resume: Bool = false) {
            self.trainer = trainer; self.run = run; self.dev = dev; self.resume = resume
        }
    }

    public enum Schedule: String, CaseIterable, Sendable { case auto, concurrent, sequential }

    /// What became of one student: a summary, or the error that stopped it (the others go on).
    public struct Outcome {
        public var name: String
        public var summary: TrainingSummary?
        public var error: Error?
    }

    public struct Progress: Sendable {
        public var stepsDone: Int, stepsTotal: Int
        public var tokensPerSecond: Double
        public var training: Int, failed: Int
    }

    /// What one pass did: its students, the schedule it kept and why, and where its time went.
    public struct PassReport: Sendable {
        public var students: [String]
        public var schedule: Schedule
        /// Median seconds per batch measured for each schedule (auto only).
        public var sequentialSeconds: Double?, concurrentSeconds: Double?
        public var batches: Int
        public var seconds: Double
        /// Time spent waiting for the cache reader (reading and decoding run ahead on their own thread).
        public var waitSeconds: Double
    }

    public let members: [Member]
    public private(set) var passes: [PassReport] = []
    let threads: Int
    let logger: Logger

    public init(members: [Member], threads: Int = Threads.count, logger: Logger = Logger(label: "distillery.group")) {
        self.members = members
        self.threads = max(1, threads)
        self.logger = logger
    }

    /// Trains every member; a member that fails to start or fails mid-run is reported in its
    /// outcome and the others continue. Throws only `DistillationError.interrupted`, after every
    /// running student has written a checkpoint.
    public func run(schedule: Schedule = .auto, stop: @escaping () -> Int32? = { InterruptRequest.shared.pending },
                    progress: (Progress) -> Void = { _ in }) throws -> [Outcome] {
        var outcomes = members.map { Outcome(name: $0.trainer.name, summary: nil, error: nil) }
        var ready: [Int] = []
        for (i, member) in members.enumerated() {
            do {
                try member.trainer.begin(dev: member.dev, run: member.run, resume: member.resume)
                ready.append(i)
            } catch {
                outcomes[i].error = error
                logger.error("\(member.trainer.name): \(error)")
            }
        }
        let keyed = Dictionary(grouping: ready) { PassKey(batchSize: members[$0].trainer.plan.spec.batchSize, dataSeed: members[$0].trainer.plan.spec.dataSeed) }
        for indices in keyed.values.sorted(by: { $0[0] < $1[0] }) {
            defer { Threads.configure(threads) }
            try pass(indices, schedule: schedule, outcomes: &outcomes, stop: stop, progress: progress)
            for i in indices where outcomes[i].error == nil {
                do { outcomes[i].summary = try members[i].trainer.finish() } catch {
                    outcomes[i].error = error
                    logger.error("\(members[i].trainer.name): \(error)")
                }
            }
        }
        return outcomes
    }

    private struct PassKey: Hashable { var batchSize: Int, dataSeed: UInt64 }

    /// One pass over the cache for students that share a batch size and data seed, read top to
    /// bottom: per batch read → update → log, evaluate, checkpoint → stop; at each epoch's end, evaluate.
    private func pass(_ indices: [Int], schedule requested: Schedule, outcomes: inout [Outcome],
                      stop: () -> Int32?, progress: (Progress) -> Void) throws {
        let trainers = indices.map { members[$0].trainer }
        let first = trainers[0], spec = first.plan.spec
        var selection = CacheSelection()
        for t in trainers {
            let s = t.selection
            selection = CacheSelection(hiddenLayers: Array(Set(selection.hiddenLayers + s.hiddenLayers)).sorted(),
                                       attentionLayers: Array(Set(selection.attentionLayers + s.attentionLayers)).sorted(),
                                       relationLayers: Array(Set(selection.relationLayers + s.relationLayers)).sorted(),
                                       logits: CacheSpec.LogitsForm.allCases.filter { selection.logits.contains($0) || s.logits.contains($0) },
                                       texts: selection.texts || s.texts)
        }
        var failed = Set<Int>()
        func fail(_ k: Int, _ error: Error) {
            failed.insert(k)
            outcomes[indices[k]].error = error
            logger.error("\(trainers[k].name): \(error)")
        }
        func running() -> [Int] { trainers.indices.filter { !failed.contains($0) && !trainers[$0].isFinished } }

        var report = PassReport(students: trainers.map(\.name), schedule: requested == .auto ? .sequential : requested,
                                batches: 0, seconds: 0, waitSeconds: 0)
        let calibrating = requested == .auto && threads > 1 && trainers.count > 1
        var timings: [Schedule: [Double]] = [:]
        let started = Date()
        var tokens = 0
        defer {
            report.seconds = Date().timeIntervalSince(started)
            passes.append(report)
        }
        // Where each student continues: resumed students may stand at different places, and the
        // pass starts at the earliest. A student is due for a batch when it stands there.
        var next = trainers.map { $0.resumedPosition ?? PassPosition(epoch: 0, batch: 0) }
        var epoch = running().map { next[$0].epoch }.min() ?? 0
        var skip = running().filter { next[$0].epoch == epoch }.map { next[$0].batch }.min() ?? 0
        while !running().isEmpty {
            let batches = CacheBatches(reader: first.cache, options: .init(batchSize: spec.batchSize, shuffle: true, seed: spec.dataSeed,
                                                                           epoch: epoch, selection: selection, skipBatches: skip))
            var index = skip, waitBefore = 0.0
            while running().contains(where: { next[$0].epoch == epoch }) {
                // Read: once for every student (the reader decodes ahead on its own thread).
                let sequences: [CachedSequence]
                do {
                    guard let batch = try batches.nextBatch() else { break }
                    sequences = batch
                } catch {
                    // The cache itself failed: every student of this pass stops with the same error.
                    for k in running() { fail(k, error) }
                    return
                }
                let waited = batches.waitSeconds - waitBefore
                waitBefore = batches.waitSeconds
                report.waitSeconds += waited
                let here = PassPosition(epoch: epoch, batch: index)
                let due = running().filter { next[$0] == here }

                // Update: each due student, one after another or side by side.
                // Auto: batch 0 warms up, then three batches each way; the faster schedule stays.
                var mode = report.schedule
                if calibrating && due.count > 1 && report.sequentialSeconds == nil {
                    let n = report.batches
                    mode = n < 4 ? .sequential : .concurrent
                    if n == 7 {
                        report = decide(report, timings)
                        mode = report.schedule
                    }
                }
                let clock = Date()
                for (k, error) in update(due.map { trainers[$0] }, sequences, waited: waited, mode: mode) {
                    fail(due[k], error)
                }
                if calibrating && report.sequentialSeconds == nil && report.batches >= 1 {
                    timings[mode, default: []].append(Date().timeIntervalSince(clock))
                }
                Threads.configure(threads)
                let stepped = due.filter { !failed.contains($0) }
                for k in stepped { next[k].batch += 1 }

                // Log, evaluate, checkpoint: each student that stepped, as its settings say.
                for k in stepped {
                    let t = trainers[k]
                    do {
                        try t.logIfDue(epoch: epoch)
                        if t.evaluationDue { try t.evaluate() }
                        if t.checkpointDue { try t.checkpoint(at: next[k]) }
                    } catch { fail(k, error) }
                }
                report.batches += 1
                index += 1
                tokens += sequences.reduce(0) { $0 + $1.length } * due.count
                progress(Progress(stepsDone: trainers.reduce(0) { $0 + $1.stepIndex }, stepsTotal: trainers.reduce(0) { $0 + $1.totalSteps },
                                  tokensPerSecond: Double(tokens) / max(1e-9, Date().timeIntervalSince(started)),
                                  training: running().count, failed: failed.count))

                // Stop: on a signal every running student checkpoints where it stands.
                if let signal = stop() {
                    var saved: [String] = []
                    for k in running() {
                        do { try trainers[k].checkpoint(at: next[k]); saved.append("\(trainers[k].name) at update \(trainers[k].stepIndex)") } catch { fail(k, error) }
                    }
                    throw DistillationError.interrupted(signal: signal, detail: saved.isEmpty ? "no student was running" : "checkpointed " + saved.joined(separator: ", ") + "; continue with --resume")
                }
            }
            // End of the epoch: evaluated unless evaluation runs every N updates; then the next epoch.
            for k in running() where next[k].epoch == epoch {
                do { if trainers[k].evaluatesAtEpochEnd { try trainers[k].evaluate() } } catch { fail(k, error) }
                next[k] = PassPosition(epoch: epoch + 1, batch: 0)
            }
            epoch += 1
            skip = 0
        }
        if calibrating && report.sequentialSeconds == nil { report = decide(report, timings) }
    }

    /// Keeps the schedule with the smaller median batch time.
    private func decide(_ report: PassReport, _ timings: [Schedule: [Double]]) -> PassReport {
        func median(_ values: [Double]?) -> Double? {
            guard let values, !values.isEmpty else { return nil }
            return values.sorted()[values.count / 2]
        }
        var report = report
        report.sequentialSeconds = median(timings[.sequential])
        report.concurrentSeconds = median(timings[.concurrent])
        if let s = report.sequentialSeconds, let c = report.concurrentSeconds {
            report.schedule = c < s ? .concurrent : .sequential
            logger.info("schedule for \(report.students.count) students: \(report.schedule.rawValue) (median batch \(String(format: "%.3f", s)) s one after another on \(threads) threads, \(String(format: "%.3f", c)) s side by side on one thread each)")
        }
        return report
    }

    /// One update on the batch for each of `trainers`; returns the errors by position.
    private func update(_ trainers: [StudentTrainer], _ sequences: [CachedSequence], waited: Double, mode: Schedule) -> [(Int, Error)] {
        var errors: [(Int, Error)] = []
        if mode != .concurrent || trainers.count == 1 || threads == 1 {
            Threads.configure(threads)
            for (k, t) in trainers.enumerated() {
                do { try t.update(sequences, waited: waited) } catch { errors.append((k, error)) }
            }
            return errors
        }
        Threads.configure(1)
        let lock = NSLock()
        var next = 0
        DispatchQueue.concurrentPerform(iterations: min(threads, trainers.count)) { _ in
            while true {
                lock.lock()
                let k = next
                next += 1
                lock.unlock()
                guard k < trainers.count else { return }
                do { try trainers[k].update(sequences, waited: waited) } catch {
                    lock.lock(); errors.append((k, error)); lock.unlock()
                }
            }
        }
        return errors.sorted { $0.0 < $1.0 }
    }
}
