import Bert
import Foundation
import Kernels
import Logging
import TeacherCache
import TestSupport
import Tokenization
import XCTest
@testable import Distillation

/// pooled_mse, and students with a tokenizer of their own.
final class StudentTokenizerTests: XCTestCase {
    static var folder: URL!
    static var caches: (train: URL, dev: URL)!
    /// An XLM-R-style SentencePiece tokenizer (Tests/Fixtures/tokenizer/unigram, 2,502 pieces, <pad> = 1).
    static let unigram = packageRoot.appendingPathComponent("Tests/Fixtures/tokenizer/unigram")

    override class func setUp() {
        super.setUp()
        folder = try! makeTemporaryDirectory("distillery-student-tokenizer-tests")
        caches = try! TrainFixtures.caches(in: folder, trainRows: 24, devRows: 8)
    }

    override class func tearDown() {
        try? FileManager.default.removeItem(at: folder)
        super.tearDown()
    }

    private func trainer(_ spec: TrainSpec) throws -> StudentTrainer {
        try StudentTrainer(spec: spec, cache: Self.caches.train, teacherDirectory: TrainFixtures.teacher("cls"), logger: Logger(label: "test"))
    }

    /// The objective's gradient with respect to the student's last hidden state and the projection,
    /// against central differences of the loss it computes (both poolings, a projected width; padding
    /// gets no gradient). Float32 activations, differences at h = 1e-2 of values O(1): 2e-3 relative.
    func testPooledMSEGradientsMatchFiniteDifferences() throws {
        for pooling in Pooling.allCases {
            var spec = TrainFixtures.spec([.pooledMSE: 1])
            spec.pooling = pooling
            spec.student.hiddenSize = 16; spec.student.heads = 2; spec.student.intermediateSize = 32
            spec.student.initialization = .random
            let t = try trainer(spec)
            XCTAssertEqual(t.plan.pooledPair?.projected, true)
            let sequences = try t.cache.sequences(0..<8, selection: t.plan.selection)
            try t.targets.fill(sequences)
            t.graph.forward(t.student.parameters, t.targets.input, mlmRows: nil, training: false, seed: 0)
            t.objectives.zeroGradients()
            _ = t.objectives.compute(graph: t.graph, targets: t.targets, gradients: true)
            let layer = t.plan.pooledPair!.student, c = 16, seq = t.targets.seq
            let h = t.graph.hiddenState(layer: layer), dh = t.graph.hiddenStateGradient(layer: layer)
            func loss() -> Double { t.objectives.compute(graph: t.graph, targets: t.targets, gradients: false).values[.pooledMSE]! }
            func numeric(_ value: UnsafeMutablePointer<Float>) -> Double {
                let saved = value.pointee, step: Float = 1e-2
                value.pointee = saved + step; let plus = loss()
                value.pointee = saved - step; let minus = loss()
                value.pointee = saved
                return (plus - minus) / Double(2 * step)
            }
            let lengths = (0..<8).map { b in (0..<seq).filter { t.targets.input.attentionMask[b * seq + $0] != 0 }.count }
            let padded = try XCTUnwrap(lengths.firstIndex { $0 < seq })
            for (b, position) in [(0, 0), (1, 1), (3, 0), (padded, lengths[padded] - 1), (padded, lengths[padded])] {
                for i in [0, 7, 15] {
                    let index = (b * seq + position) * c + i
                    let expected = numeric(h + index), actual = Double(dh[index])
                    XCTAssertEqual(actual, expected, accuracy: 2e-3 * max(1e-3, abs(expected)) + 1e-6, "\(pooling) dh[\(b), \(position), \(i)]")
                }
            }
            XCTAssertEqual(dh[(padded * seq + lengths[padded]) * c], 0, "padding gets no gradient")
            let w = try XCTUnwrap(t.objectives.pooledWeight), gw = try XCTUnwrap(t.objectives.pooledWeightGradient)
            for index in [0, 17, 200] {
                XCTAssertEqual(Double(gw[index]), numeric(w.pointer + index), accuracy: 2e-3 * max(1e-3, abs(Double(gw[index]))) + 1e-6, "\(pooling) dW[\(index)]")
            }
        }
    }

    /// A student with its own tokenizer: it encodes each cached example's text, learns kd and
    /// pooled_mse, is exported with its tokenizer as its family (XLM-R here, for a BERT teacher),
    /// and transformers computes the same logits. Token-level objectives are refused, saying why.
    func testStudentWithItsOwnTokenizerTrainsAndExports() throws {
        var spec = TrainFixtures.spec([.kd: 1, .pooledMSE: 1], steps: 4)
        spec.student.tokenizer = Self.unigram.path
        spec.student.family = "xlm-roberta"
        spec.student.initialization = .teacher(.list([2]))
        let t = try trainer(spec)
        let tokenizer = try loadTokenizer(modelDirectory: Self.unigram)
        XCTAssertEqual(t.student.config.vocabSize, 2_502)
        XCTAssertEqual(t.student.config.padTokenId, 1)
        XCTAssertTrue(t.plan.selection.texts)
        // Its input is its own encoding of the example's text.
        let sequences = try t.cache.sequences(0..<2, selection: t.plan.selection)
        try t.targets.fill(sequences)
        let first = try XCTUnwrap(sequences[0].text)
        let ids = tokenizer.encodeIds(first, pair: nil, maxLength: t.maxSeq).inputIds
        XCTAssertEqual(Array(t.targets.input.inputIds.prefix(ids.count)), ids)
        XCTAssertNotEqual(ids, sequences[0].inputIds, "the teacher's WordPiece ids are not the student's")

        let run = Self.folder.appendingPathComponent("own-tokenizer")
        let summary = try t.train(dev: Self.caches.dev, run: RunFolder(url: run))
        XCTAssertTrue(summary.lossHistory.allSatisfy { $0.values.allSatisfy(\.isFinite) })
        XCTAssertNotNil(summary.evaluations.last?.classification)
        let final = run.appendingPathComponent("final")
        for name in ["tokenizer.json", "sentencepiece.bpe.model", "tokenizer_config.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: final.appendingPathComponent(name).path), name)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: final.appendingPathComponent("vocab.txt").path), "not the teacher's vocabulary")
        let exported = try BertModel.load(directory: final)
        XCTAssertEqual(exported.config.family, .xlmRoberta)
        let text = "the cat sat on the mat"
        let encoding = tokenizer.encode(text)
        let forward = BertForward(model: exported, maxBatch: 1, maxSeq: encoding.inputIds.count, capture: .logits)
        try forward.run(BertInput(batch: 1, seq: encoding.inputIds.count, inputIds: encoding.inputIds, tokenTypeIds: encoding.tokenTypeIds,
                                  attentionMask: [Int32](repeating: 1, count: encoding.inputIds.count)))
        let ours = Array(forward.classifierLogits)

        // Token-level objectives are refused, naming them and the reason.
        var tokenLevel = spec
        tokenLevel.objectives = [.kd: 1, .hiddenMSE: 1, .attentionKL: 1]
        XCTAssertThrowsError(try trainer(tokenLevel)) { error in
            XCTAssertTrue("\(error)".contains("attention_kl, hidden_mse compare the student and teacher token by token"), "\(error)")
            XCTAssertTrue("\(error)".contains("its own tokenizer"), "\(error)")
        }

        guard (try? shell("python3 -c 'import torch, transformers'").status) == 0 else {
            return print("transformers check skipped: torch/transformers not installed (make setup-reference)")
        }
        // transformers' own tokenizer of the exported folder gives the same ids, and the model the same logits.
        let script = """
        import json, sys, torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        folder, text = sys.argv[1], sys.argv[2]
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForSequenceClassification.from_pretrained(folder, attn_implementation="eager").eval()
        batch = tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        print(json.dumps({"ids": batch["input_ids"][0].tolist(), "logits": logits[0].tolist(), "architecture": model.config.architectures[0]}))
        """
        let result = try runProgram("python3", ["-c", script, final.path, text])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.split(separator: "\n").last!.utf8)) as! [String: Any]
        XCTAssertEqual(json["architecture"] as? String, "XLMRobertaForSequenceClassification")
        XCTAssertEqual((json["ids"] as! [Int]).map(Int32.init), encoding.inputIds)
        let theirs = (json["logits"] as! [Double]).map(Float.init)
        for j in 0..<ours.count { XCTAssertEqual(theirs[j], ours[j], accuracy: 1e-5) }
    }
}
