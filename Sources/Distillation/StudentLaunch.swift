import Foundation
import Kernels
import Logging
import TeacherCache

/// Turns named student specs into a group ready to train, deciding per student from its run
/// folder: skip it (finished with the same configuration and cache), resume it, start it, or
/// reject it (an unfinished or different run in the way, or a configuration the cache cannot
/// serve). Every student is checked before any trains, so a bad one is named at once.
public struct StudentLaunch {
    public struct Options: Sendable {
        /// Continue unfinished runs from their checkpoints.
        public var resume = false
        /// Start over whatever the run folder holds.
        public var force = false
        /// Teacher targets computed on the fly (the equivalence check and the benchmark's baseline).
        public var online = false
        /// A run folder holding another configuration's run (finished or not) starts over instead
        /// of being refused: a study file is the truth about its students (`distillery run`).
        public var restartChanged = false
        public init(resume: Bool = false, force: Bool = false, online: Bool = false, restartChanged: Bool = false) {
            self.resume = resume; self.force = force; self.online = online; self.restartChanged = restartChanged
        }
    }

    public var members: [StudentGroup.Member] = []
    /// Students already trained with this configuration and cache, and their run folders.
    public var skipped: [(name: String, folder: URL)] = []
    /// Students that cannot train, with the reason.
    public var rejected: [(name: String, error: Error)] = []

    public init(students: [NamedStudent], cache: URL, dev: URL?, teacher: URL?, folder: (NamedStudent) -> URL,
                options: Options, logger: Logger) {
        // One reader for every student's run hash (opening a cache reads its offsets).
        let reader: CacheReader
        do { reader = try CacheReader(url: cache) } catch {
            rejected = students.map { ($0.name, error) }
            return
        }
        for student in students {
            do {
                // Before its folder is made: a precision this CPU cannot run.
                if let reason = student.spec.precision?.unsupportedReason { throw DistillationError.invalidSpec(reason) }
                let url = folder(student)
                let run = try RunFolder(url: url)
                let hash = StudentTrainer.hash(spec: student.spec, cache: reader, online: options.online)
                let changed = run.completedHash.map { $0 != hash } ?? TrainingCheckpoint.runHash(in: run).map { $0 != hash } ?? false
                if !options.force, let finished = run.completedHash, !(changed && options.restartChanged) {
                    guard finished == hash else {
                        throw DistillationError.incompatible("\(url.path) holds a finished run of another configuration or cache; use --force to replace it or another output folder")
                    }
                    skipped.append((student.name, url))
                    continue
                }
                if options.force || (changed && options.restartChanged) {
                    try run.clear()
                } else if run.hasUnfinishedRun && !options.resume {
                    throw DistillationError.incompatible("\(url.path) holds an unfinished run; use --resume to continue it or --force to start over")
                }
                let trainer = try StudentTrainer(spec: student.spec, cache: cache, teacherDirectory: teacher, online: options.online,
                                                 logger: logger, name: student.name)
                members.append(StudentGroup.Member(trainer: trainer, run: run, dev: dev, resume: options.resume))
            } catch {
                rejected.append((student.name, error))
            }
        }
    }
}
