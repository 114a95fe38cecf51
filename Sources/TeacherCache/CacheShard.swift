import Foundation

/// `--shard I/N`: the I-th of N contiguous slices of the run, numbered from 1 (1/3, 2/3, 3/3).
///
/// A slice is a range of the run's sequences (examples in data order after bad rows are
/// skipped, each with its masked-LM views), cut only where a teacher batch of the
/// single-process run ends. Every shard then runs exactly the single-process run's batches
/// (padding included), so its values are bit-identical, and shards 1…N in order hold the
/// single-process cache's sequences in its order.
public struct ShardSelection: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1 else { throw CacheError.invalidSpec("--shard \(index)/\(count): the shard count must be at least 1") }
        guard (1...count).contains(index) else {
            throw CacheError.invalidSpec("--shard \(index)/\(count): shards are numbered from 1, so the index must be in 1…\(count)")
        }
        self.index = index; self.count = count
    }

    /// Parses "I/N".
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw CacheError.invalidSpec("--shard expects I/N with I in 1…N (e.g. 2/4), got '\(text)'")
        }
        try self.init(index: i, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    /// Sequences of the batches ⌊B·(I−1)/N⌋ ..< ⌊B·I/N⌋ of the B = ⌈total / batchSize⌉ batches:
    /// shard sizes differ by at most one batch.
    public func sequences(of total: Int, batchSize: Int) throws -> Range<Int> {
        let batches = (total + batchSize - 1) / batchSize
        guard batches >= count else {
            throw CacheError.invalidSpec("--shard \(self): \(total) sequences make \(batches) batches of \(batchSize), too few for \(count) shards (each needs at least one batch)")
        }
        return (batches * (index - 1) / count * batchSize)..<min(total, batches * index / count * batchSize)
    }
}

/// What a shard file records in its root attribute `shard` (JSON): where its sequences sit in
/// the single-process order. Sequence g of the whole run is row g − firstSequence here.
public struct CacheShard: Codable, Equatable, Sendable {
    public var index: Int
    public var count: Int
    public var firstSequence: Int
    public var endSequence: Int
    /// Sequences of the whole run (all shards).
    public var totalSequences: Int

    public var sequences: Range<Int> { firstSequence..<endSequence }

    enum CodingKeys: String, CodingKey {
        case index, count, firstSequence = "first_sequence", endSequence = "end_sequence", totalSequences = "total_sequences"
    }

    init(_ selection: ShardSelection, sequences: Range<Int>, totalSequences: Int) {
        index = selection.index; count = selection.count
        firstSequence = sequences.lowerBound; endSequence = sequences.upperBound
        self.totalSequences = totalSequences
    }
}

/// One shard of a merged cache, as the merged file lists it (root attribute `merged_shards`).
public struct MergedShard: Codable, Equatable, Sendable {
    /// The shard file as the virtual datasets name it: relative to the merged file's folder.
    public var file: String
    public var index: Int
    public var count: Int
    public var firstSequence: Int
    public var endSequence: Int
    public var tokens: Int

    enum CodingKeys: String, CodingKey {
        case file, index, count, firstSequence = "first_sequence", endSequence = "end_sequence", tokens
    }

    /// Where the file is, relative names taken from `merged`'s folder (as HDF5 resolves them).
    public func url(relativeTo merged: URL) -> URL {
        file.hasPrefix("/") ? URL(fileURLWithPath: file) : merged.deletingLastPathComponent().appendingPathComponent(file).standardizedFileURL
    }
}
