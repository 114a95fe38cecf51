import Foundation
import HDF5
import Kernels
import XCTest
@testable import TeacherCache

/// `cache --shard I/N` and `cache merge`: three shards merged read exactly like one cache made in
/// one process; shards that do not belong together are refused with the files named; a missing
/// shard is reported; the folder of a merged cache and its shards can move.
final class ShardedCacheTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try CacheFixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    /// Every component, with several codecs (fp16 custom type, bf16, int8 with scales) and small
    /// chunks, batches and commits that fall differently in the shards than in one run.
    private func everything(maskedLM: Bool = false) -> CacheSpec {
        var spec = CacheSpec()
        spec.maxLength = 24
        spec.batchSize = 5
        spec.hiddenLayers = [0, 2]
        spec.attentionLayers = [1, 2]
        spec.relationLayers = [2]
        spec.logits = [.full, .topk, .sampled]
        spec.topK = maskedLM ? 5 : 2
        spec.sampledDraws = 20
        spec.maskViews = maskedLM ? 2 : 1
        spec.codecs.hidden = .fp16; spec.codecs.attention = .int8; spec.codecs.relations = .bf16; spec.codecs.logits = .fp32
        spec.chunkBytes = 4096
        spec.commitEvery = 7
        return spec
    }

    private func small() -> CacheSpec {
        var spec = CacheSpec()
        spec.maxLength = 16
        spec.batchSize = 3
        spec.hiddenLayers = [2]
        spec.chunkBytes = 4096
        return spec
    }

    /// Builds shards 1…N of `data` into `shardFolder` (shard-<i>.h5).
    @discardableResult
    private func shards(teacher: String = "cls", data: URL, spec: CacheSpec, count: Int = 3, in shardFolder: URL,
                        only: [Int]? = nil) throws -> [URL] {
        try FileManager.default.createDirectory(at: shardFolder, withIntermediateDirectories: true)
        return try (only ?? Array(1...count)).map { i in
            let out = shardFolder.appendingPathComponent("shard-\(i).h5")
            try CacheFixtures.build(teacher: teacher, data: data, spec: spec, out: out, shard: try ShardSelection(index: i, count: count))
            return out
        }
    }

    // MARK: equal to one process

    func testThreeMergedShardsEqualASingleProcessCacheForAClassifier() throws {
        try assertMergedEqualsSingle(teacher: "cls", rows: 23, spec: everything())
    }

    func testThreeMergedShardsEqualASingleProcessCacheForAMaskedLMWithTwoViews() throws {
        try assertMergedEqualsSingle(teacher: "mlm", rows: 11, spec: everything(maskedLM: true))
    }

    private func assertMergedEqualsSingle(teacher: String, rows: Int, spec: CacheSpec) throws {
        let data = try CacheFixtures.dataFile(in: folder, rows: rows)
        let single = folder.appendingPathComponent("single.h5"), merged = folder.appendingPathComponent("merged.h5")
        try CacheFixtures.build(teacher: teacher, data: data, spec: spec, out: single)
        let parts = try shards(teacher: teacher, data: data, spec: spec, in: folder.appendingPathComponent("shards"))

        // Shards record where they sit; given in any order.
        let views = spec.maskViews > 1 && teacher == "mlm" ? spec.maskViews : 1
        var sizes: [Int] = []
        for (i, url) in parts.enumerated() {
            let report = try CacheReport.read(url)
            let shard = try XCTUnwrap(report.shard)
            XCTAssertEqual([shard.index, shard.count, shard.totalSequences], [i + 1, 3, rows * views])
            // Cut where a batch of the single run ends.
            let batches = (rows * views + spec.batchSize - 1) / spec.batchSize
            XCTAssertEqual(shard.firstSequence, batches * i / 3 * spec.batchSize)
            XCTAssertEqual(report.sequences, shard.endSequence - shard.firstSequence)
            sizes.append(report.sequences)
        }
        XCTAssertEqual(sizes.reduce(0, +), rows * views)
        let summary = try CacheMerger.merge(parts.reversed(), into: merged)
        XCTAssertEqual(summary.shards.map(\.file), ["shards/shard-1.h5", "shards/shard-2.h5", "shards/shard-3.h5"])
        XCTAssertEqual(summary.sequences, rows * views)

        do {
            let a = try CacheReader(url: single), b = try CacheReader(url: merged)
            XCTAssertEqual(b.shards.count, 3)
            try assertSameCache(a, b)
        }   // HDF5 1.10 keeps the shards open while `b` lives; verify and inspect open them again
        // The merged file holds only offsets and mappings: far smaller than the shards.
        let mergedBytes = try FileManager.default.attributesOfItem(atPath: merged.path)[.size] as! Int
        let shardBytes = try parts.map { try FileManager.default.attributesOfItem(atPath: $0.path)[.size] as! Int }.reduce(0, +)
        XCTAssertLessThan(mergedBytes * 2, shardBytes, "no bulk data copied")

        let verification = try CacheVerification.run(merged)
        XCTAssertTrue(verification.ok, "\(verification.faults)")
        XCTAssertEqual(verification.shards.count, 3)
        let report = try CacheReport.read(merged)
        XCTAssertEqual(report.shards.map(\.present), [true, true, true])
        XCTAssertTrue(report.text().contains("merged cache: virtual datasets over 3 shard files"), report.text())
        XCTAssertTrue(report.text().contains("shard 2/3: shards/shard-2.h5"), report.text())
        XCTAssertEqual(report.sequences, rows * views)
        // Stored sizes of virtual datasets are their shards'.
        let hidden = try XCTUnwrap(report.entries.first { $0.path == "hidden/layer_2" })
        XCTAssertEqual(hidden.virtualSources, 3)
        XCTAssertGreaterThan(hidden.storedBytes, 0)
    }

    /// Same counts, labels and every decoded component of every sequence, bit for bit.
    private func assertSameCache(_ a: CacheReader, _ b: CacheReader, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(a.sequenceCount, b.sequenceCount, file: file, line: line)
        XCTAssertEqual(a.tokenCount, b.tokenCount, file: file, line: line)
        XCTAssertEqual(a.labelNames, b.labelNames, file: file, line: line)
        XCTAssertEqual(a.isMaskedLM, b.isMaskedLM, file: file, line: line)
        XCTAssertEqual(a.spec, b.spec, file: file, line: line)
        XCTAssertEqual(a.provenance, b.provenance, file: file, line: line)
        var selection = CacheSelection.all(of: a.spec)
        selection.texts = true
        let x = try a.sequences(0..<a.sequenceCount, selection: selection), y = try b.sequences(0..<b.sequenceCount, selection: selection)
        var differences: [String] = []
        for (s, t) in zip(x, y) {
            func check<T: Equatable>(_ name: String, _ u: T, _ v: T) { if u != v && differences.count < 10 { differences.append("sequence \(s.index): \(name)") } }
            check("example index", s.exampleIndex, t.exampleIndex); check("example id", s.exampleId, t.exampleId)
            check("text", s.text, t.text); check("text pair", s.textPair, t.textPair)
            check("input ids", s.inputIds, t.inputIds); check("token types", s.tokenTypeIds, t.tokenTypeIds); check("label", s.label, t.label)
            check("masked positions", s.maskedPositions, t.maskedPositions); check("masked originals", s.maskedOriginalIds, t.maskedOriginalIds)
            check("hidden", s.hidden, t.hidden); check("attention", s.attention, t.attention); check("relations", s.relations, t.relations)
            check("full logits", s.fullLogits, t.fullLogits); check("top-k ids", s.topKIds, t.topKIds); check("top-k", s.topKLogProbs, t.topKLogProbs)
            check("sampled ids", s.sampled.map(\.ids), t.sampled.map(\.ids)); check("sampled counts", s.sampled.map(\.counts), t.sampled.map(\.counts))
        }
        XCTAssertEqual(differences, [], file: file, line: line)
        // Unaligned ranges read across shard boundaries too.
        let middle = a.sequenceCount / 3 - 1..<(2 * a.sequenceCount / 3 + 1)
        XCTAssertEqual(try a.sequences(middle).map(\.hidden), try b.sequences(middle).map(\.hidden), file: file, line: line)
    }

    /// With every core in the teacher, each batch is written between forward passes (its chunks
    /// compressed on all cores); with a core to spare, on a writer thread one batch behind. The
    /// cache is the same either way: every component, codecs with scales, chunks and commits that
    /// fall inside batches.
    func testWritingBetweenPassesEqualsWritingBehind() throws {
        guard Threads.available >= 2 else { throw XCTSkip("one core: both runs would write behind") }
        let data = try CacheFixtures.dataFile(in: folder, rows: 23)
        let saved = Threads.count
        defer { Threads.configure(saved) }
        var caches: [CacheReader] = []
        for threads in [Threads.available, 1] {
            Threads.configure(threads)
            let out = folder.appendingPathComponent("threads-\(threads).h5")
            try CacheFixtures.build(teacher: "cls", data: data, spec: everything(), out: out)
            caches.append(try CacheReader(url: out))
        }
        try assertSameCache(caches[0], caches[1])
    }

    // MARK: refusals

    func testShardsThatDoNotBelongTogetherAreRefusedWithTheFilesNamed() throws {
        let data = try CacheFixtures.dataFile(in: folder, rows: 9)
        let out = folder.appendingPathComponent("merged.h5")
        let good = try shards(data: data, spec: small(), in: folder.appendingPathComponent("good"))

        // Another teacher for shard 2.
        let other = folder.appendingPathComponent("other")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        let otherTeacher = other.appendingPathComponent("shard-2.h5")
        try CacheFixtures.build(teacher: "mlm", data: data, spec: small(), out: otherTeacher, shard: try ShardSelection(index: 2, count: 3))
        XCTAssertThrowsMessage(try CacheMerger.merge([good[0], otherTeacher, good[2]], into: out),
                               contains: ["good/shard-1.h5", "other/shard-2.h5", "different teachers"])

        // Another spec.
        var longer = small()
        longer.maxLength = 20
        let otherSpec = try shards(data: data, spec: longer, in: folder.appendingPathComponent("spec"), only: [3])[0]
        XCTAssertThrowsMessage(try CacheMerger.merge([good[0], good[1], otherSpec], into: out),
                               contains: ["spec/shard-3.h5", "different cache specs", "max_length"])

        // Overlap: the same shard twice; a split into 2 mixed with a split into 3.
        let copy = folder.appendingPathComponent("copy-of-2.h5")
        try FileManager.default.copyItem(at: good[1], to: copy)
        XCTAssertThrowsMessage(try CacheMerger.merge(good + [copy], into: out), contains: ["copy-of-2.h5", "good/shard-2.h5", "overlaps"])
        let half = try shards(data: data, spec: small(), count: 2, in: folder.appendingPathComponent("halves"), only: [2])[0]
        XCTAssertThrowsMessage(try CacheMerger.merge([good[0], half], into: out), contains: ["halves/shard-2.h5", "different splits", "2/2", "1/3"])

        // Gaps: a shard left out, in the middle and at the end.
        XCTAssertThrowsMessage(try CacheMerger.merge([good[0], good[2]], into: out),
                               contains: ["gap", "sequences 3..<6", "between", "good/shard-1.h5", "good/shard-3.h5"])
        XCTAssertThrowsMessage(try CacheMerger.merge([good[0], good[1]], into: out), contains: ["gap", "sequences 6..<9", "after"])

        // Unfinished or not a shard.
        let partial = folder.appendingPathComponent("good/shard-3.h5.partial")
        try FileManager.default.moveItem(at: good[2], to: partial)
        XCTAssertThrowsMessage(try CacheMerger.merge([good[0], good[1], good[2]], into: out), contains: ["shard-3.h5", ".partial", "--resume"])
        XCTAssertThrowsMessage(try CacheMerger.merge([good[0], good[1], partial], into: out), contains: ["shard-3.h5.partial", "unfinished"])
        let whole = folder.appendingPathComponent("whole.h5")
        try CacheFixtures.build(teacher: "cls", data: data, spec: small(), out: whole)
        XCTAssertThrowsMessage(try CacheMerger.merge([whole], into: out), contains: ["whole.h5", "not a shard"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "nothing written after a refusal")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path + ".partial"))
    }

    func testShardSelectionIsOneBasedAndChecked() throws {
        XCTAssertEqual(try ShardSelection(parsing: "2/4"), try ShardSelection(index: 2, count: 4))
        XCTAssertThrowsMessage(try ShardSelection(parsing: "0/3"), contains: ["numbered from 1", "1…3"])
        XCTAssertThrowsMessage(try ShardSelection(parsing: "4/3"), contains: ["1…3"])
        XCTAssertThrowsMessage(try ShardSelection(parsing: "2"), contains: ["I/N"])
        XCTAssertThrowsMessage(try ShardSelection(parsing: "1/0"), contains: ["at least 1"])
        // Contiguous, in order, cut at the single run's batch boundaries (sizes within one batch).
        let slices = try (1...4).map { try ShardSelection(index: $0, count: 4).sequences(of: 23, batchSize: 5) }
        XCTAssertEqual(slices, [0..<5, 5..<10, 10..<15, 15..<23])
        let three = try (1...3).map { try ShardSelection(index: $0, count: 3).sequences(of: 100, batchSize: 10) }
        XCTAssertEqual(three, [0..<30, 30..<60, 60..<100])
        XCTAssertThrowsMessage(try ShardSelection(index: 1, count: 4).sequences(of: 9, batchSize: 3), contains: ["9 sequences", "3 batches", "4 shards"])
        // A resumed shard must be the same shard.
        let data = try CacheFixtures.dataFile(in: folder, rows: 9)
        let out = folder.appendingPathComponent("s.h5")
        try CacheFixtures.build(teacher: "cls", data: data, spec: small(), out: out, shard: try ShardSelection(index: 1, count: 3))
        try FileManager.default.moveItem(at: out, to: URL(fileURLWithPath: out.path + ".partial"))
        XCTAssertThrowsMessage(try CacheFixtures.build(teacher: "cls", data: data, spec: small(), out: out, resume: true,
                                                       shard: try ShardSelection(index: 2, count: 3)), contains: ["shard 1/3", "same --shard"])
    }

    // MARK: missing shards, moving, damage

    func testVerifyAndReadersNameADeletedShard() throws {
        let data = try CacheFixtures.dataFile(in: folder, rows: 9)
        let parts = try shards(data: data, spec: small(), in: folder.appendingPathComponent("shards"))
        let merged = folder.appendingPathComponent("merged.h5")
        try CacheMerger.merge(parts, into: merged)
        XCTAssertTrue(try CacheVerification.run(merged).ok)
        try FileManager.default.removeItem(at: parts[1])

        let verification = try CacheVerification.run(merged)
        XCTAssertFalse(verification.ok)
        XCTAssertTrue(verification.faults.contains { $0.reason.contains("shards/shard-2.h5") && $0.reason.contains("missing") && $0.reason.contains("2/3") },
                      "\(verification.faults)")
        XCTAssertThrowsMessage(try CacheReader(url: merged), contains: ["shard 2/3 is missing", "shard-2.h5"])
        let report = try CacheReport.read(merged)
        XCTAssertEqual(report.shards.map(\.present), [true, false, true])
        XCTAssertTrue(report.text().contains("shards/shard-2.h5 — sequences 3..<6, ") && report.text().contains("MISSING"), report.text())
    }

    /// Without the reader's check, HDF5 would read a missing shard's rows as the fill value:
    /// NaN for floats and the largest value for unsigned ids, never plausible zeros.
    func testAMissingShardReadsAsAnUnmistakableFill() throws {
        let data = try CacheFixtures.dataFile(in: folder, rows: 9)
        let parts = try shards(data: data, spec: small(), in: folder)
        let merged = folder.appendingPathComponent("merged.h5")
        try CacheMerger.merge(parts, into: merged)
        try FileManager.default.removeItem(at: parts[2])
        let file = try H5File.open(merged)
        let hidden = try file.root.dataset("hidden/layer_2"), ids = try file.root.dataset("inputs/input_ids")
        XCTAssertTrue(try hidden.isVirtual)
        XCTAssertEqual(try hidden.virtualSources.map(\.file), ["shard-1.h5", "shard-2.h5", "shard-3.h5"])
        let last = try hidden.read(Float.self, rows: (hidden.rows - 1)..<hidden.rows)
        XCTAssertTrue(last.allSatisfy(\.isNaN), "\(last.prefix(4))")
        XCTAssertEqual(try ids.read(UInt16.self, rows: (ids.rows - 1)..<ids.rows), [UInt16.max])
        XCTAssertFalse(try hidden.read(Float.self, rows: 0..<1).contains(where: \.isNaN))
    }

    func testAMergedCacheMovedWithItsShardsStillReads() throws {
        let data = try CacheFixtures.dataFile(in: folder, rows: 10)
        let original = folder.appendingPathComponent("run/a")
        let parts = try shards(data: data, spec: small(), in: original.appendingPathComponent("shards"))
        try CacheMerger.merge(parts, into: original.appendingPathComponent("merged.h5"))
        let before = try CacheReader(url: original.appendingPathComponent("merged.h5")).sequences(0..<10).map(\.hidden)

        let moved = folder.appendingPathComponent("elsewhere/b")
        try FileManager.default.createDirectory(at: moved.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: original, to: moved)
        XCTAssertEqual(try CacheReader(url: moved.appendingPathComponent("merged.h5")).sequences(0..<10).map(\.hidden), before)
        XCTAssertTrue(try CacheVerification.run(moved.appendingPathComponent("merged.h5")).ok)

        // Shards in a sibling folder are named with "..".
        let sibling = folder.appendingPathComponent("elsewhere/merged/m.h5")
        try FileManager.default.createDirectory(at: sibling.deletingLastPathComponent(), withIntermediateDirectories: true)
        let summary = try CacheMerger.merge((1...3).map { moved.appendingPathComponent("shards/shard-\($0).h5") }, into: sibling)
        XCTAssertEqual(summary.shards[0].file, "../b/shards/shard-1.h5")
        XCTAssertEqual(try CacheReader(url: sibling).sequences(0..<10).map(\.hidden), before)
    }

    func testVerifyChecksTheShardsChunksThroughTheMergedFile() throws {
        let data = try CacheFixtures.dataFile(in: folder, rows: 12)
        let parts = try shards(data: data, spec: small(), in: folder)
        let merged = folder.appendingPathComponent("merged.h5")
        try CacheMerger.merge(parts, into: merged)
        // Flip a byte in the middle of shard 3's first hidden-state chunk.
        let file = try H5File.open(parts[2])
        let chunk = try file.root.dataset("hidden/layer_2").chunkLocation(0)
        try file.close()
        let handle = try FileHandle(forUpdating: parts[2])
        try handle.seek(toOffset: UInt64(chunk.fileOffset + chunk.storedBytes / 2))
        let byte = try handle.read(upToCount: 1)![0]
        try handle.seek(toOffset: UInt64(chunk.fileOffset + chunk.storedBytes / 2))
        handle.write(Data([byte ^ 0xFF]))
        try handle.close()
        let verification = try CacheVerification.run(merged)
        XCTAssertTrue(verification.faults.contains { $0.dataset == "hidden/layer_2" && $0.reason.contains("unreadable") }, "\(verification.faults)")
    }
}
