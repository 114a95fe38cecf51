import Dispatch
import Foundation
import Kernels

/// Batches of cached sequences for training, read ahead on a background thread.
///
/// Sequential order reads contiguous ranges. Shuffled order never decodes a chunk once per
/// row: the sequence axis is cut into blocks of `blockSequences`, the block order is shuffled
/// (seeded by seed and epoch), `bufferBlocks` blocks at a time are read as contiguous ranges, and
/// the sequences inside that buffer are shuffled before they are cut into batches.
/// The reader belongs to this object's prefetch thread while batches are being read.
public final class CacheBatches: Sequence, IteratorProtocol {
    public struct Options: Sendable {
        public var batchSize: Int
        public var shuffle: Bool
        public var seed: UInt64
        public var epoch: Int
        public var blockSequences: Int
        public var bufferBlocks: Int
        public var selection: CacheSelection?
        /// Batches of this epoch already consumed (a resumed run): skipped, and whole buffers of
        /// them never read, so the next batch is exactly the one an uninterrupted epoch would give.
        public var skipBatches: Int
        public init(batchSize: Int, shuffle: Bool = false, seed: UInt64 = 0, epoch: Int = 0,
                    blockSequences: Int = 256, bufferBlocks: Int = 8, selection: CacheSelection? = nil, skipBatches: Int = 0) {
            self.batchSize = batchSize; self.shuffle = shuffle; self.seed = seed; self.epoch = epoch
            self.blockSequences = blockSequences; self.bufferBlocks = bufferBlocks; self.selection = selection
            self.skipBatches = skipBatches
        }
    }

    private let reader: CacheReader
    private let options: Options
    private var buffers: [[Range<Int>]] = []   // per buffer: the contiguous ranges it reads
    private var nextBuffer = 0
    private var ready: [CachedSequence] = []
    private let queue = DispatchQueue(label: "distillery.cache-prefetch")
    private var prefetched: (index: Int, result: Result<[CachedSequence], Error>)?
    private let done = DispatchSemaphore(value: 0)
    private var pendingPrefetch = false
    /// Sequences still to drop from the first buffer read (the rest of `skipBatches`).
    private var pendingSkip = 0
    /// Seconds the consumer spent waiting for reads (for the benchmarks' "cache waiting" share).
    public private(set) var waitSeconds: Double = 0

    public init(reader: CacheReader, options: Options) {
        self.reader = reader
        self.options = options
        let n = reader.sequenceCount, block = Swift.max(1, options.blockSequences)
        var blocks = stride(from: 0, to: n, by: block).map { $0..<Swift.min($0 + block, n) }
        if options.shuffle {
            var generator = SeededGenerator(seed: options.seed, stream: UInt64(options.epoch) &+ 1)
            blocks.shuffle(using: &generator)
        }
        let perBuffer = Swift.max(1, options.bufferBlocks)
        buffers = stride(from: 0, to: blocks.count, by: perBuffer).map { Array(blocks[$0..<Swift.min($0 + perBuffer, blocks.count)]) }
        // Batches are cut from the concatenated buffers, so skipping is counted in sequences.
        var skip = Swift.max(0, options.skipBatches) * Swift.max(1, options.batchSize)
        while nextBuffer < buffers.count, case let size = buffers[nextBuffer].reduce(0, { $0 + $1.count }), size <= skip {
            skip -= size
            nextBuffer += 1
        }
        pendingSkip = skip
        startPrefetch()
    }

    deinit { if pendingPrefetch { done.wait() } }

    private func startPrefetch() {
        guard nextBuffer < buffers.count else { return }
        let index = nextBuffer, ranges = buffers[index], reader = reader, selection = options.selection
        let shuffle = options.shuffle, seed = options.seed, epoch = options.epoch
        nextBuffer += 1
        pendingPrefetch = true
        queue.async { [self] in
            let result = Result { () -> [CachedSequence] in
                var sequences = try ranges.flatMap { try reader.sequences($0, selection: selection) }
                if shuffle {
                    var generator = SeededGenerator(seed: seed, stream: (UInt64(epoch) &+ 1) << 32 | UInt64(index))
                    sequences.shuffle(using: &generator)
                }
                return sequences
            }
            self.prefetched = (index, result)
            self.done.signal()
        }
    }

    /// The next batch, or nil at the end of the epoch. Throws read errors (naming file and dataset).
    /// A batch may span two buffers; only the last batch of the epoch can be short.
    public func nextBatch() throws -> [CachedSequence]? {
        while ready.count < options.batchSize && pendingPrefetch {
            let start = DispatchTime.now().uptimeNanoseconds
            done.wait()
            waitSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            pendingPrefetch = false
            let sequences = try prefetched!.result.get()
            prefetched = nil
            startPrefetch()
            ready += sequences
            if pendingSkip > 0 {
                let drop = Swift.min(pendingSkip, ready.count)
                ready.removeFirst(drop)
                pendingSkip -= drop
            }
        }
        guard !ready.isEmpty else { return nil }
        let take = Swift.min(options.batchSize, ready.count)
        let batch = Array(ready[0..<take])
        ready.removeFirst(take)
        return batch
    }

    public func next() -> [CachedSequence]? { try? nextBatch() }
}
