import CBLAS
import Dispatch
import Foundation

/// How many threads the kernels use. One switch for the whole process: a trainer that runs one
/// student per core sets 1, a single teacher uses all cores.
///
/// BLAS itself always runs single-threaded; the kernels split GEMMs into row blocks over their
/// own workers. OpenBLAS's pool spins for a long while after each call, stealing the cores from
/// the element-wise kernels and from the cache writer in between, and one single-threaded GEMM
/// per row block was measured faster here than OpenBLAS's own two-thread split.
public enum Threads {
    nonisolated(unsafe) private static var current = 1
    private static let singleThreadedBLAS: Void = openblas_set_num_threads(1)

    public static var count: Int { current }

    public static func configure(_ count: Int) {
        _ = singleThreadedBLAS
        current = max(1, count)
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

/// Runs `body` on a fixed partition of 0..<count into at most `blocks` contiguous blocks of at
/// least `minimumBlock` items, the blocks spread over the workers. The partition depends only on
/// `count`, never on the thread count: a GEMM's rounding depends on its shape, so GEMMs split
/// this way give bit-identical results on one thread or many (a student trained alone on all
/// cores equals the same student trained beside others on one core each).
@inline(__always)
public func parallelBlocks(_ count: Int, blocks: Int = 8, minimumBlock: Int, _ body: (Range<Int>) -> Void) {
    parallelBlocks(count, blocks: blocks, minimumBlock: minimumBlock) { _, range in body(range) }
}

/// `parallelBlocks`, telling `body` its block's index too (at most `blocks`), for per-block scratch.
@inline(__always)
public func parallelBlocks(_ count: Int, blocks: Int = 8, minimumBlock: Int, _ body: (_ block: Int, Range<Int>) -> Void) {
    let n = max(1, min(blocks, count / max(1, minimumBlock)))
    parallelFor(n) { range in
        for i in range {
            let start = count * i / n, end = count * (i + 1) / n
            if start < end { body(i, start..<end) }
        }
    }
}

/// Runs `body(i)` for every i in 0..<count on `Threads.count` workers, each taking the next item
/// not yet started: for independent items of unequal cost (chunks to compress, tensors to encode).
public func parallelForEach(_ count: Int, _ body: (Int) -> Void) {
    let workers = min(Threads.count, count)
    if workers <= 1 {
        for i in 0..<count { body(i) }
        return
    }
    let next = NextItem(count)
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let i = next.take() { body(i) }
        }
    }
}

/// The shared counter of `parallelForEach`.
private final class NextItem: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    private let count: Int

    init(_ count: Int) { self.count = count }

    func take() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard value < count else { return nil }
        value += 1
        return value - 1
    }
}
