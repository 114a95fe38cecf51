import Foundation
import XCTest
@testable import Distillation

/// The one mapping from launch decisions and outcomes to statuses (CLI summary, study ledger,
/// report): words, messages, and the ledger's round trip.
final class StudentStatusTests: XCTestCase {
    func testWordsMessagesAndRoundTrip() {
        let all: [StudentStatus] = [.trained, .skipped, .rejected("another configuration"), .failed("diverged")]
        XCTAssertEqual(all.map(\.word), ["trained", "skipped (already trained)", "rejected", "failed"])
        XCTAssertEqual(all.map(\.shown), ["trained", "skipped (already trained)", "rejected: another configuration", "failed: diverged"])
        XCTAssertEqual(all.map(\.succeeded), [true, true, false, false])
        for status in all { XCTAssertEqual(StudentStatus(word: status.word, message: status.message), status) }
        XCTAssertNil(StudentStatus(word: "bogus", message: nil))
    }

    func testLaunchStatusesCoverEveryStudentOnce() {
        // A launch over no students (its cache is never opened), given one rejected and one skipped.
        var launch = StudentLaunch(students: [], cache: URL(fileURLWithPath: "/nonexistent.h5"), dev: nil, teacher: nil,
                                   folder: { _ in URL(fileURLWithPath: "/tmp") }, options: .init(), logger: .init(label: "test"))
        launch.rejected = [("r", DistillationError.invalidSpec("bad"))]
        launch.skipped = [("s", URL(fileURLWithPath: "/tmp/s"))]
        let outcomes = [StudentGroup.Outcome(name: "t", summary: nil, error: nil),
                        StudentGroup.Outcome(name: "f", summary: nil, error: DistillationError.nonFinite("step 2"))]
        let statuses = launch.statuses(after: outcomes)
        XCTAssertEqual(statuses.map(\.name), ["r", "s", "t", "f"])
        XCTAssertEqual(statuses.map(\.status.word), ["rejected", "skipped (already trained)", "trained", "failed"])
        XCTAssertTrue(statuses[3].status.message?.contains("step 2") == true)
    }
}
