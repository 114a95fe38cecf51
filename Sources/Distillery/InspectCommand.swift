import ArgumentParser
import Foundation
import TeacherCache

/// `distillery inspect`: what a cache holds and what it costs.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a cache's tree, shapes, types, codecs, filters, bytes per token, compression and provenance."
    )

    @Argument(help: "A cache file (.h5, or an interrupted .h5.partial).") var cache: String

    func run() throws {
        print(try CacheReport.read(URL(fileURLWithPath: cache)).text())
    }
}

/// `distillery verify`: is this cache sound?
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a cache: schema, offsets, every chunk's checksum, no NaN/Inf. Exits non-zero on any fault."
    )

    @Argument(help: "A cache file (.h5).") var cache: String

    func run() throws {
        let result = try CacheVerification.run(URL(fileURLWithPath: cache))
        if result.ok {
            print("\(cache): OK — \(result.datasetsChecked) datasets, \(result.valuesChecked) values checked")
        } else {
            for fault in result.faults { print("\(cache): FAULT \(fault)") }
            print("\(cache): \(result.faults.count) fault(s)")
            throw ExitCode(1)
        }
    }
}
