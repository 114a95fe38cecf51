import Foundation

/// Shared pieces of the benchmarks: medians, and the seconds a block takes.
enum Measure {
    static func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// The teacher's depth and name, from its config.json (the benchmarks take any BERT folder).
    static func teacherName(_ folder: URL) -> String { folder.standardizedFileURL.lastPathComponent }
}
