import Bert
import Foundation
import HDF5
import Tokenization
import XCTest
@testable import TeacherCache

/// Stage one end to end on the tiny fixture teachers: what is read back equals what the
/// teacher computes (fp32: exactly; lossy codecs: within the error recorded while writing).
final class CacheRoundTripTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try CacheFixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private func fullSpec(codec: TensorCodec) -> CacheSpec {
        var spec = CacheSpec()
        spec.maxLength = 24
        spec.batchSize = 5
        spec.hiddenLayers = [0, 1, 2]
        spec.attentionLayers = [1, 2]
        spec.relationLayers = [2]
        spec.logits = [.full, .topk, .sampled]
        spec.topK = 2
        spec.codecs.hidden = codec; spec.codecs.attention = codec; spec.codecs.relations = codec
        spec.chunkBytes = 4096   // many chunks even for small data
        spec.commitEvery = 7
        return spec
    }

    /// The teacher's outputs for one example, computed directly (batch of one, no padding).
    private func reference(_ model: BertModel, _ tokenizer: BertTokenizer, text: String, maxLength: Int) throws -> BertForward {
        let e = tokenizer.encode(text, maxLength: maxLength)
        let forward = BertForward(model: model, maxBatch: 1, maxSeq: e.inputIds.count, capture: .all)
        try forward.run(BertInput(batch: 1, seq: e.inputIds.count, inputIds: e.inputIds, tokenTypeIds: e.tokenTypeIds,
                                  attentionMask: [Int32](repeating: 1, count: e.inputIds.count)))
        return forward
    }

    func testFloat32CacheHoldsExactlyWhatTheTeacherComputes() throws {
        let data = try CacheFixtures.dataFile(in: folder, rows: 23)
        let out = folder.appendingPathComponent("c.h5")
        let summary = try CacheFixtures.build(teacher: "cls", data: data, spec: fullSpec(codec: .fp32), out: out)
        XCTAssertEqual(summary.sequences, 23)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path + ".partial"))
        let reader = try CacheReader(url: out)
        XCTAssertEqual(reader.sequenceCount, 23)
        XCTAssertEqual(reader.labelNames, ["negative", "neutral", "positive"])
        let model = try BertModel.load(directory: CacheFixtures.teacher("cls"))
        let tokenizer = try BertTokenizer(modelDirectory: CacheFixtures.teacher("cls"))
        let texts = try String(contentsOf: data, encoding: .utf8).split(separator: "\n").map {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: String])["text"]!
        }
        var tokens = 0
        for (i, s) in try reader.sequences(0..<23).enumerated() {
            let f = try reference(model, tokenizer, text: texts[i], maxLength: 24)
            XCTAssertEqual(s.exampleId, "ex\(i)")
            XCTAssertEqual(s.label, Float([0, 1, 2][i % 3]))
            XCTAssertEqual(s.inputIds, tokenizer.encode(texts[i], maxLength: 24).inputIds)
            tokens += s.length
            // Batched and padded in the cache, alone here: equal up to GEMM summation order.
            for l in [0, 1, 2] { assertClose(s.hidden[l]!, Array(f.hiddenState(layer: l)), 1e-5, "hidden \(l) of \(i)") }
            for l in [1, 2] { assertClose(s.attention[l]!, Array(f.attentionProbabilities(layer: l)), 1e-5, "attention \(l) of \(i)") }
            assertClose(s.relations[2]!, Array(f.projections(layer: 2)), 1e-5, "relations of \(i)")
            assertClose(s.fullLogits, Array(f.classifierLogits), 1e-5, "logits of \(i)")
            // Top-k: log-probabilities over all classes, largest first.
            let logits = Array(f.classifierLogits).map(Double.init)
            let lse = log(logits.map { exp($0) }.reduce(0, +))
            let order = logits.indices.sorted { logits[$0] > logits[$1] }
            XCTAssertEqual(s.topKIds, order.prefix(2).map(Int32.init))
            assertClose(s.topKLogProbs, order.prefix(2).map { Float(logits[$0] - lse) }, 1e-5, "top-k of \(i)")
            XCTAssertEqual(s.sampled.count, 1)
            XCTAssertEqual(s.sampled[0].counts.map(Int.init).reduce(0, +), 50)
        }
        XCTAssertEqual(tokens, reader.tokenCount)
        let report = try CacheReport.read(out)
        XCTAssertTrue(report.entries.filter { $0.codec == "fp32" }.allSatisfy { $0.maxAbsError == 0 })
        XCTAssertTrue(try CacheVerification.run(out).ok)
    }

    func testLossyCodecsStayWithinTheRecordedError() throws {
        let data = try CacheFixtures.dataFile(in: folder, rows: 17)
        let exact = folder.appendingPathComponent("fp32.h5")
        try CacheFixtures.build(teacher: "cls", data: data, spec: fullSpec(codec: .fp32), out: exact)
        let reference = try CacheReader(url: exact).sequences(0..<17)
        for codec in [TensorCodec.fp16, .bf16, .int8] {
            let out = folder.appendingPathComponent("\(codec).h5")
            try CacheFixtures.build(teacher: "cls", data: data, spec: fullSpec(codec: codec), out: out)
            let report = try CacheReport.read(out)
            let reader = try CacheReader(url: out)
            let decoded = try reader.sequences(0..<17)
            func recorded(_ path: String) -> Float { Float(report.entries.first { $0.path == path }!.maxAbsError!) }
            var worst: [String: Float] = [:]
            for (a, b) in zip(decoded, reference) {
                for l in [0, 1, 2] { worst["hidden/layer_\(l)", default: 0] = max(worst["hidden/layer_\(l)", default: 0], maxError(a.hidden[l]!, b.hidden[l]!)) }
                for l in [1, 2] { worst["attention/layer_\(l)", default: 0] = max(worst["attention/layer_\(l)", default: 0], maxError(a.attention[l]!, b.attention[l]!)) }
                worst["relations/layer_2", default: 0] = max(worst["relations/layer_2", default: 0], maxError(a.relations[2]!, b.relations[2]!))
            }
            for (path, error) in worst {
                XCTAssertGreaterThan(recorded(path), 0, "\(codec) \(path) records its error")
                // The recorded error is the max over everything written, so it bounds (and here equals) the measured one.
                XCTAssertEqual(error, recorded(path), accuracy: recorded(path) * 1e-3, "\(codec) \(path)")
            }
            XCTAssertTrue(try CacheVerification.run(out).ok, "\(codec) verifies")
        }
    }

    func testMaskedLMTeacherCachesDistributionsAtMaskedPositionsOnly() throws {
        let data = try CacheFixtures.dataFile(in: folder, rows: 40)
        var spec = CacheSpec()
        spec.maxLength = 24; spec.batchSize = 8
        spec.hiddenLayers = [2]
        spec.logits = [.topk, .sampled]
        spec.topK = 5
        spec.maskViews = 2
        let out = folder.appendingPathComponent("mlm.h5")
        try CacheFixtures.build(teacher: "mlm", data: data, spec: spec, out: out)
        let reader = try CacheReader(url: out)
        XCTAssertTrue(reader.isMaskedLM)
        XCTAssertEqual(reader.sequenceCount, 80, "two views per example")
        let sequences = try reader.sequences(0..<80)
        let masked = sequences.reduce(0) { $0 + $1.maskedPositions.count }
        let maskable = sequences.reduce(0) { $0 + $1.length - 2 }
        XCTAssertGreaterThan(masked, 0)
        XCTAssertEqual(Double(masked) / Double(maskable), 0.15, accuracy: 0.06)
        for s in sequences {
            XCTAssertEqual(s.topKIds.count, 5 * s.maskedPositions.count)
            XCTAssertEqual(s.sampled.count, s.maskedPositions.count)
            XCTAssertFalse(s.maskedPositions.contains(0), "[CLS] is never masked")
            XCTAssertFalse(s.maskedPositions.contains(Int32(s.length - 1)), "[SEP] is never masked")
        }
        // The two views of an example differ in their masks (with overwhelming probability).
        XCTAssertNotEqual(sequences.filter { $0.exampleIndex == 30 }.map(\.maskedPositions).first,
                          sequences.filter { $0.exampleIndex == 30 }.map(\.maskedPositions).last)
        XCTAssertTrue(try CacheVerification.run(out).ok)
    }

    func testBatchesCoverEveryRowOnceSequentialAndShuffled() throws {
        let data = try CacheFixtures.dataFile(in: folder, rows: 50)
        var spec = CacheSpec()
        spec.maxLength = 16; spec.hiddenLayers = [2]; spec.chunkBytes = 4096
        let out = folder.appendingPathComponent("b.h5")
        try CacheFixtures.build(teacher: "base", data: data, spec: spec, out: out)
        let reader = try CacheReader(url: out)
        let sequential = Array(CacheBatches(reader: reader, options: .init(batchSize: 8, blockSequences: 7, bufferBlocks: 2)))
        XCTAssertEqual(sequential.flatMap { $0.map(\.index) }, Array(0..<50))
        XCTAssertEqual(sequential.map(\.count), [8, 8, 8, 8, 8, 8, 2])
        func epoch(_ e: Int, seed: UInt64 = 3) -> [Int] {
            Array(CacheBatches(reader: reader, options: .init(batchSize: 8, shuffle: true, seed: seed, epoch: e, blockSequences: 7, bufferBlocks: 2))).flatMap { $0.map(\.index) }
        }
        XCTAssertEqual(epoch(0).sorted(), Array(0..<50))
        XCTAssertEqual(epoch(0), epoch(0), "same seed and epoch, same order")
        XCTAssertNotEqual(epoch(0), epoch(1))
        XCTAssertNotEqual(epoch(0), Array(0..<50))
        // A sequence read through a batch equals random access.
        let viaBatches = Dictionary(uniqueKeysWithValues: Array(CacheBatches(reader: reader, options: .init(batchSize: 8, shuffle: true, seed: 1))).flatMap { $0 }.map { ($0.index, $0.hidden[2]!) })
        XCTAssertEqual(viaBatches[17], try reader.sequence(17).hidden[2])
    }

    private func maxError(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }

    private func assertClose(_ a: [Float], _ b: [Float], _ tolerance: Float, _ what: String, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, line: line)
        let worst = maxError(a, b)
        XCTAssertLessThanOrEqual(worst, tolerance, "\(what): max error \(worst)", line: line)
    }
}
