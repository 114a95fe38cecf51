import Distillation
import Foundation
import Settings
import TeacherCache
import XCTest

/// A train or cache setting is declared once, in its spec's table (`TrainSpec.settings`,
/// `CacheSpec.settings`: key, flag, help, check; the default is the spec's). The commands' flags
/// take their help from the table; what the table cannot see is which flag of the command sets
/// which key. This test holds the two together: every setting with a flag has that flag, with the
/// table's help and default, and every other flag of the command is one of its own options.
final class SettingsConsistencyTests: XCTestCase {
    /// Flags of `train` that are not settings of the train spec.
    static let trainOwnFlags: Set<String> = ["cache", "dev", "teacher", "out", "spec", "student", "students", "students-schedule",
                                             "resume", "force", "online", "threads", "version", "help", "no-temperature-scaling"]
    /// Flags of `cache build` that are not settings of the cache spec.
    static let cacheOwnFlags: Set<String> = ["teacher", "data", "out", "format", "text-field", "pair-field", "label-field", "id-field",
                                             "skip-bad-rows", "spec", "resume", "overwrite", "shard", "threads", "version", "help"]

    func testTrainFlagsAreTheTrainSettings() throws {
        try check(["train"], TrainSpec.settings.leaves, own: Self.trainOwnFlags)
    }

    func testCacheFlagsAreTheCacheSettings() throws {
        try check(["cache", "build"], CacheSpec.settings.leaves, own: Self.cacheOwnFlags)
    }

    private func check(_ command: [String], _ leaves: [SettingLeaf], own: Set<String>) throws {
        let flags = try helpTexts(command)
        for leaf in leaves {
            guard let flag = leaf.flag else { continue }
            guard let help = flags[flag] else { XCTFail("setting \(leaf.path) names --\(flag), which `\(command.joined(separator: " "))` does not have"); continue }
            XCTAssertTrue(help.hasPrefix(leaf.help), "--\(flag): '\(help)' does not start with the help of \(leaf.path): '\(leaf.help)'")
            XCTAssertTrue(help.hasSuffix((leaf.defaultPhrase.map { " " + $0 } ?? "") + "."), "--\(flag): '\(help)' does not end with \(leaf.defaultPhrase ?? "no default")")
        }
        let settingFlags = Set(leaves.compactMap(\.flag))
        for flag in flags.keys.sorted() where !settingFlags.contains(flag) && !own.contains(flag) {
            XCTFail("--\(flag) is neither a setting's flag in the spec's table nor listed as the command's own")
        }
    }

    /// Each long option of a command and its help text.
    private func helpTexts(_ command: [String]) throws -> [String: String] {
        let result = try CLI.run(command + ["--experimental-dump-help"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let arguments = try XCTUnwrap((root["command"] as? [String: Any])?["arguments"] as? [[String: Any]])
        var flags: [String: String] = [:]
        for argument in arguments {
            for name in (argument["names"] as? [[String: Any]] ?? []) where name["kind"] as? String == "long" {
                flags[name["name"] as? String ?? ""] = argument["abstract"] as? String ?? ""
            }
        }
        return flags
    }
}
