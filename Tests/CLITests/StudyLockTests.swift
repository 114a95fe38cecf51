import Foundation
import TestSupport
import XCTest

/// Two runs of one study at once, with real processes: the second is refused naming the lock
/// and the first's pid, and writes nothing; a task of a Slurm run shares the study with its
/// siblings but not with a whole run; a killed run's lock is taken over; --wait-lock waits.
/// The first process holds its lock through the fault hook DISTILLERY_FAULT_PAUSE_AFTER_LOCK.
final class StudyLockTests: XCTestCase {
    var folder: URL!
    var pipeline: URL!
    var results: URL!
    var study: URL { results.appendingPathComponent("locked") }
    var holders: [Process] = []

    override func setUpWithError() throws {
        folder = try CLI.temporaryDirectory()
        results = folder.appendingPathComponent("results")
        pipeline = folder.appendingPathComponent("study.yaml")
        // The teacher is missing, so a run that gets past the lock stops at once, naming it.
        try """
        name: locked
        teacher: {path: \(folder.appendingPathComponent("no-teacher").path)}
        data: {train: t.jsonl, label_field: label}
        grid: {objectives: {kd: {kd: 1}}, init: [lower]}
        resources: {shards: 2}
        """.write(to: pipeline, atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        for process in holders where process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        try? FileManager.default.removeItem(at: folder)
    }

    /// Starts `distillery run` holding its lock for `seconds`; returns once the lock file names it.
    func holder(_ extra: [String] = [], seconds: Int = 60, lockFile: String = "study.lock") throws -> Process {
        let process = Process()
        process.executableURL = builtProduct("distillery")
        process.arguments = ["run", pipeline.path, "--results", results.path] + extra
        process.environment = ProcessInfo.processInfo.environment.merging(["DISTILLERY_FAULT_PAUSE_AFTER_LOCK": "\(seconds)"]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        holders.append(process)
        let lock = study.appendingPathComponent(lockFile)
        let deadline = Date().addingTimeInterval(30)
        while (try? String(contentsOf: lock, encoding: .utf8))?.hasPrefix("pid \(process.processIdentifier)\n") != true {
            guard Date() < deadline, process.isRunning else { XCTFail("the first run never took \(lockFile)"); break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return process
    }

    func runStudy(_ extra: [String] = []) throws -> ProgramResult {
        try CLI.run(["run", pipeline.path, "--results", results.path] + extra)
    }

    /// Every file under the study's folder with its bytes.
    func snapshot() throws -> [String: Data] {
        var files: [String: Data] = [:]
        for case let url as URL in FileManager.default.enumerator(at: study, includingPropertiesForKeys: nil)! where !url.hasDirectoryPath {
            files[url.path] = try Data(contentsOf: url)
        }
        return files
    }

    func testSecondRunIsRefusedAndAKilledRunsLockIsTakenOver() throws {
        let first = try holder()
        let pid = first.processIdentifier
        try Data("first run's output".utf8).write(to: study.appendingPathComponent("results.md"))
        let before = try snapshot()
        for extra in [[], ["--stage", "cache", "--task", "1"], ["--executor", "slurm", "--dry-run"]] {
            let second = try runStudy(extra)
            XCTAssertEqual(second.status, 1, "\(extra): \(second.output)")
            XCTAssertTrue(second.stderr.contains("study.lock is held by pid \(pid)"), "\(extra): \(second.stderr)")
            XCTAssertTrue(second.stderr.contains("--wait-lock"), second.stderr)
        }
        XCTAssertEqual(try snapshot(), before, "the refused runs wrote nothing")

        kill(pid, SIGKILL)
        first.waitUntilExit()
        let third = try runStudy()
        XCTAssertTrue(third.stderr.contains("left by pid \(pid)") && third.stderr.contains("no longer running; taken over"), third.stderr)
        XCTAssertTrue(third.stderr.contains("no-teacher"), "past the lock, the run went on: \(third.stderr)")
        XCTAssertEqual(try String(contentsOf: study.appendingPathComponent("study.lock"), encoding: .utf8), "", "a finished run leaves no holder behind")
        XCTAssertFalse(try runStudy().stderr.contains("taken over"), "only a killed run's lock is reported")
    }

    /// A Slurm task (--stage S --task K) against a whole run and against the same task.
    func testTasksShareTheStudyButNotATask() throws {
        let task = try holder(["--stage", "cache", "--task", "1"], lockFile: "locks/cache-1.lock")
        let pid = task.processIdentifier
        let whole = try runStudy()
        XCTAssertEqual(whole.status, 1)
        XCTAssertTrue(whole.stderr.contains("held by tasks of a Slurm run: task cache-1 by pid \(pid)"), whole.stderr)
        let same = try runStudy(["--stage", "cache", "--task", "1"])
        XCTAssertTrue(same.stderr.contains("locks/cache-1.lock is held by pid \(pid)"), same.stderr)
        let sibling = try runStudy(["--stage", "cache", "--task", "2"])
        XCTAssertFalse(sibling.stderr.contains("another run"), "a sibling task runs beside it: \(sibling.stderr)")
        XCTAssertTrue(sibling.stderr.contains("no-teacher"), sibling.stderr)
    }

    /// A local run, or a new submission, while the last submission's jobs are still queued or
    /// running (slurm/jobs.txt, asked of `squeue`; a stand-in here) is refused naming them.
    func testLocalRunBesideQueuedSlurmJobsIsRefused() throws {
        let bin = folder.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let squeue = bin.appendingPathComponent("squeue")
        try "#!/bin/sh\necho '4711_1 COMPLETED'\necho '4711_2 RUNNING'\necho '4712 PENDING'\n".write(to: squeue, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: squeue.path)
        let slurm = study.appendingPathComponent("slurm")
        try FileManager.default.createDirectory(at: slurm, withIntermediateDirectories: true)
        try "cache 4711\nmerge 4712\n".write(to: slurm.appendingPathComponent("jobs.txt"), atomically: true, encoding: .utf8)
        let path = ["PATH": bin.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")]
        for extra in [["--executor", "local"], ["--executor", "slurm"]] {
            let result = try CLI.run(["run", pipeline.path, "--results", results.path] + extra, environment: path)
            XCTAssertEqual(result.status, 1, result.output)
            XCTAssertTrue(result.stderr.contains("cache 4711_2 RUNNING, merge 4712 PENDING") && result.stderr.contains("scancel 4711 4712"), result.stderr)
        }
        try "#!/bin/sh\necho '4711_1 COMPLETED'\necho '4712 FAILED'\n".write(to: squeue, atomically: true, encoding: .utf8)
        XCTAssertTrue(try CLI.run(["run", pipeline.path, "--results", results.path], environment: path).stderr.contains("no-teacher"), "ended jobs do not hold the study")
    }

    func testWaitLockWaitsForTheHolderToEnd() throws {
        let first = try holder(seconds: 2)
        let started = Date()
        let second = try runStudy(["--wait-lock"])
        XCTAssertTrue(second.stderr.contains("waiting: ") && second.stderr.contains("pid \(first.processIdentifier)"), second.stderr)
        XCTAssertFalse(second.stderr.contains("another run"), second.stderr)
        XCTAssertTrue(second.stderr.contains("no-teacher"), "it ran once the first ended: \(second.stderr)")
        XCTAssertGreaterThan(Date().timeIntervalSince(started), 1)
        first.waitUntilExit()
    }
}
