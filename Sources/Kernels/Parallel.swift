import CBLAS
import Dispatch
import Foundation

/// How many threads the kernels and BLAS use. One switch for the whole process:
/// a trainer that runs one student per core sets 1, a single teacher uses all cores.
public enum Threads {
    nonisolated(unsafe) private static var current = 1

    public static var count: Int { current }

    public static func configure(_ count: Int) {
        current = max(1, count)
        openblas_set_num_threads(Int32(current))
    }

    /// Runs `body` with BLAS single-threaded, for parallel regions whose workers call BLAS
    /// themselves: OpenBLAS would otherwise split even small GEMMs over its own pool from every
    /// worker at once. Process-wide, so only the thread that owns BLAS work may call it.
    public static func withSingleThreadedBLAS<T>(_ body: () throws -> T) rethrows -> T {
        guard current > 1 else { return try body() }
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(Int32(current)) }
        return try body()
    }

    /// The number of cores this process may use.
    public static var available: Int { ProcessInfo.processInfo.activeProcessorCount }
}

/// Runs `body(i)` for i in 0..<count, split into contiguous ranges over `Threads.count` workers.
/// Work items must be independent; small counts run inline.
@inline(__always)
public func parallelFor(_ count: Int, minimumPerThread: Int = 1, _ body: (Range<Int>) -> Void) {
    let workers = min(Threads.count, max(1, count / max(1, minimumPerThread)))
    if workers <= 1 || count <= 1 {
        body(0..<count)
        return
    }
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let start = count * w / workers, end = count * (w + 1) / workers
            if start < end { body(start..<end) }
        }
    }
}
