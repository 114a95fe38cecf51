import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One run of a study at a time. A whole run (`distillery run FILE`, here or submitting to
/// Slurm) holds `results/<name>/study.lock` exclusively; a single task (`--stage S --task K`, what
/// each Slurm job runs) holds it shared, plus `locks/<stage>-<task>.lock` exclusively — so tasks
/// of one submission run side by side, while a second whole run, a local run beside the Slurm
/// jobs, or the same task twice is refused, naming the lock and its holder's pid.
///
/// The locks are `flock(2)` locks: the kernel drops them when their process ends, however it
/// ends, so a lock left by a killed run is simply taken over (and said so). Each file holds its
/// last holder's pid, host, command and start time, for the messages.
public final class StudyLock {
    public enum Scope: Sendable {
        case study
        case task(StudyJobs.Stage, Int)
    }

    private var descriptors: [Int32] = []
    /// The lock files this process wrote itself into (emptied again on release, so that only a
    /// killed run leaves its name behind).
    private var recorded: [Int32] = []
    /// What the lock found of an earlier holder that is gone (a killed run), for the log.
    public private(set) var tookOver: String?

    /// Takes the locks of `scope` in `folder` (results/<name>/), or throws naming the holder.
    /// `wait`: block until the holder ends instead of refusing (`log` says what it waits for).
    public init(folder: URL, scope: Scope, wait: Bool = false, log: (String) -> Void = { _ in }) throws {
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw PipelineError.io("cannot create \(folder.path): \(error.localizedDescription)")
        }
        let study = folder.appendingPathComponent("study.lock")
        switch scope {
        case .study:
            try take(study, exclusive: true, wait: wait, log: log) { self.describeHolders(of: study, in: folder) }
            try record(study, descriptor: descriptors[0])
        case .task(let stage, let number):
            try take(study, exclusive: false, wait: wait, log: log) { self.describeHolders(of: study, in: folder) }
            let locks = folder.appendingPathComponent("locks")
            try? FileManager.default.createDirectory(at: locks, withIntermediateDirectories: true)
            let task = locks.appendingPathComponent("\(stage.rawValue)-\(number).lock")
            try take(task, exclusive: true, wait: wait, log: log) { Self.holder(of: task).map { "\(task.path) is held by \($0)" } ?? "\(task.path) is held" }
            try record(task, descriptor: descriptors[1])
        }
        if let seconds = ProcessInfo.processInfo.environment["DISTILLERY_FAULT_PAUSE_AFTER_LOCK"].flatMap(Double.init) {
            // Fault-suite hook: hold the lock a while, so that a second process meets it.
            FileHandle.standardError.write(Data("holding the study lock for \(seconds) s (DISTILLERY_FAULT_PAUSE_AFTER_LOCK)\n".utf8))
            Thread.sleep(forTimeInterval: seconds)
        }
    }

    deinit { release() }

    /// Drops the locks (also done by the kernel when the process ends).
    public func release() {
        for descriptor in recorded { _ = ftruncate(descriptor, 0) }
        for descriptor in descriptors.reversed() { _ = flock(descriptor, LOCK_UN); close(descriptor) }
        descriptors = []
        recorded = []
    }

    private func take(_ url: URL, exclusive: Bool, wait: Bool, log: (String) -> Void, held: () -> String) throws {
        let descriptor = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw PipelineError.io("cannot open the lock \(url.path): \(String(cString: strerror(errno)))") }
        let mode = exclusive ? LOCK_EX : LOCK_SH
        if flock(descriptor, mode | LOCK_NB) != 0 {
            let error = errno
            guard error == EWOULDBLOCK else {
                close(descriptor)
                throw PipelineError.io("cannot lock \(url.path): \(String(cString: strerror(error)))")
            }
            let why = held()
            guard wait else {
                close(descriptor)
                throw PipelineError.refused("another run of this study is going on: \(why); wait for it to end, or pass --wait-lock to wait")
            }
            log("waiting: \(why)")
            while flock(descriptor, mode) != 0 {
                guard errno == EINTR else { close(descriptor); throw PipelineError.io("cannot lock \(url.path): \(String(cString: strerror(errno)))") }
            }
        }
        descriptors.append(descriptor)
        if exclusive, let previous = Self.holder(of: url, gone: true) { tookOver = "\(url.path) was left by \(previous), which is no longer running; taken over" }
    }

    /// Writes this process as the holder (an exclusive lock's file is ours to write).
    private func record(_ url: URL, descriptor: Int32) throws {
        let text = "pid \(getpid())\nhost \(Self.hostName)\nstarted \(ISO8601DateFormatter().string(from: Date()))\ncommand \(CommandLine.arguments.joined(separator: " ").prefix(500))\n"
        let bytes = Array(text.utf8)
        guard ftruncate(descriptor, 0) == 0, pwrite(descriptor, bytes, bytes.count, 0) == bytes.count else {
            throw PipelineError.io("cannot write the lock \(url.path): \(String(cString: strerror(errno)))")
        }
        recorded.append(descriptor)
    }

    /// Who holds the study lock: the whole run written in it, or the tasks holding theirs.
    private func describeHolders(of study: URL, in folder: URL) -> String {
        let locks = folder.appendingPathComponent("locks")
        let tasks = ((try? FileManager.default.contentsOfDirectory(atPath: locks.path)) ?? []).sorted().compactMap { name -> String? in
            let url = locks.appendingPathComponent(name)
            guard Self.isHeld(url), let holder = Self.holder(of: url) else { return nil }
            return "task \(name.replacingOccurrences(of: ".lock", with: "")) by \(holder)"
        }
        if !tasks.isEmpty { return "\(study.path) is held by tasks of a Slurm run: \(tasks.joined(separator: "; "))" }
        return "\(study.path) is held by \(Self.holder(of: study) ?? "another process")"
    }

    /// "pid N on HOST (COMMAND, since T)" from a lock file; with `gone`, only when that process
    /// is known to have ended (same host, no such pid).
    static func holder(of url: URL, gone: Bool = false) -> String? {
        guard let text = try? String(contentsOf: url, encoding: .utf8), !text.isEmpty else { return nil }
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
        }
        guard let pid = fields["pid"].flatMap(Int32.init) else { return nil }
        if gone {
            guard fields["host"] == hostName, pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { return nil }
        }
        return "pid \(pid) on \(fields["host"] ?? "?") (\(fields["command"] ?? "?"), since \(fields["started"] ?? "?"))"
    }

    /// Whether another process holds `url`'s lock (a shared try that fails).
    static func isHeld(_ url: URL) -> Bool {
        let descriptor = open(url.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_SH | LOCK_NB) == 0 { _ = flock(descriptor, LOCK_UN); return false }
        return true
    }

    static let hostName = ProcessInfo.processInfo.hostName
}
