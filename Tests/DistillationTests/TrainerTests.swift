import Bert
import Datasets
import Foundation
import Kernels
import Logging
import TeacherCache
import TestSupport
import Training
import XCTest
@testable import Distillation

final class TrainerTests: XCTestCase {
    static var folder: URL!
    static var caches: (train: URL, dev: URL)!
    let logger = Logger(label: "test")

    override class func setUp() {
        super.setUp()
        folder = try! makeTemporaryDirectory("distillery-train-tests")
        caches = try! TrainFixtures.caches(in: folder)
    }

    override class func tearDown() {
        try? FileManager.default.removeItem(at: folder)
        super.tearDown()
    }

    func trainer(_ spec: TrainSpec, online: Bool = false) throws -> StudentTrainer {
        try StudentTrainer(spec: spec, cache: Self.caches.train, teacherDirectory: TrainFixtures.teacher("cls"), online: online, logger: logger)
    }

    /// Every objective trains: finite losses, and the loss after a few steps below the first.
    func testEveryObjectiveTrains() throws {
        let cases: [(ObjectiveKind, (inout TrainSpec) -> Void)] = [
            (.ce, { _ in }), (.kd, { _ in }), (.kdTopk, { $0.topkTail = .ghost; $0.temperature = 1 }),
            (.kdTopk, { $0.topkTail = .renormalized }), (.kdSampled, { _ in }),
            (.hiddenMSE, { _ in }), (.hiddenCosine, { _ in }), (.attentionKL, { _ in }),
            (.attentionScores, { _ in }), (.valueRelation, { _ in }), (.relations, { _ in }),
            (.pooledMSE, { $0.pooling = .first }), (.pooledMSE, { $0.pooling = .mean }),
        ]
        for (kind, adjust) in cases {
            var spec = TrainFixtures.spec([kind: 1], steps: 12)
            spec.student.dropout = 0
            spec.hiddenMapping = try LayerMapping(parsing: "0:0,1:2")
            spec.attentionMapping = try LayerMapping(parsing: "1:2")
            spec.relationMapping = try LayerMapping(parsing: "1:2")
            adjust(&spec)
            let summary = try trainer(spec).train(dev: nil, run: nil)
            let losses = summary.lossHistory.map { $0[kind]! }
            XCTAssertTrue(losses.allSatisfy(\.isFinite), "\(kind): \(losses)")
            // Same batch order every epoch-step pairing is not guaranteed; compare means of the first and last thirds.
            let first = losses.prefix(4).reduce(0, +) / 4, last = losses.suffix(4).reduce(0, +) / 4
            XCTAssertLessThan(last, first, "\(kind) (\(spec.topkTail)) should decrease: \(losses)")
        }
    }

    /// The cache holds the teacher's outputs, so training from it is the same computation as
    /// running the teacher at every step (fp32 cache: losses equal step by step).
    func testCachedTargetsEqualOnlineTeacher() throws {
        try checkCachedEqualsOnline(cache: Self.caches.train, precision: nil)
    }

    /// The same in bf16: a cache from the bf16 teacher, the online teacher in the cache's precision,
    /// the student's products in bf16.
    func testBF16CachedTargetsEqualOnlineBF16Teacher() throws {
        if let reason = Precision.bf16.unsupportedReason { throw XCTSkip(reason) }
        let folder = try makeTemporaryDirectory("distillery-bf16-online")
        defer { try? FileManager.default.removeItem(at: folder) }
        var cacheSpec = TrainFixtures.everythingSpec()
        cacheSpec.precision = .bf16
        let caches = try TrainFixtures.caches(teacher: TrainFixtures.teacher("cls"), spec: cacheSpec, in: folder)
        XCTAssertNotNil(try CacheReader(url: caches.train).provenance.precisionCheck, "the bf16 cache records its check against fp32")
        try checkCachedEqualsOnline(cache: caches.train, precision: .bf16)
    }

    private func checkCachedEqualsOnline(cache: URL, precision: Precision?) throws {
        var spec = TrainFixtures.spec([.kd: 0.5, .ce: 0.5, .hiddenMSE: 1, .attentionKL: 1, .relations: 1, .attentionScores: 0.1, .valueRelation: 1,
                                       .pooledMSE: 1], steps: 6)
        spec.student.layers = 2
        spec.student.dropout = 0.1
        spec.attentionMapping = .uniform
        spec.precision = precision
        func trainer(online: Bool) throws -> StudentTrainer {
            try StudentTrainer(spec: spec, cache: cache, teacherDirectory: TrainFixtures.teacher("cls"), online: online, logger: logger)
        }
        let cached = try trainer(online: false).train(dev: nil, run: nil)
        let online = try trainer(online: true).train(dev: nil, run: nil)
        XCTAssertEqual(cached.lossHistory.count, 6)
        var worst = 0.0
        for (step, (a, b)) in zip(cached.lossHistory, online.lossHistory).enumerated() {
            for (kind, value) in a {
                let diff = abs(value - b[kind]!)
                worst = max(worst, diff)
                XCTAssertLessThanOrEqual(diff, 1e-5, "step \(step + 1) \(kind): cache \(value), online \(b[kind]!)")
            }
        }
        print("cached vs online teacher (\(precision?.rawValue ?? "fp32")): 6 steps, 8 objectives, largest loss difference \(worst)")
    }

    func testSameSeedSameRun() throws {
        var spec = TrainFixtures.spec([.kd: 1, .hiddenMSE: 1], steps: 5)
        spec.student.dropout = 0.1
        let a = try trainer(spec).train(dev: nil, run: nil).lossHistory
        let b = try trainer(spec).train(dev: nil, run: nil).lossHistory
        XCTAssertEqual(a.map { $0[.kd]! }, b.map { $0[.kd]! })
        spec.seed = 7
        let c = try trainer(spec).train(dev: nil, run: nil).lossHistory
        XCTAssertNotEqual(a.map { $0[.kd]! }, c.map { $0[.kd]! })
    }

    /// A cache without what the objectives need fails before the first step and names the flags.
    func testMissingTargetsNameTheCacheFlags() throws {
        var cacheSpec = TrainFixtures.everythingSpec()
        cacheSpec.hiddenLayers = [2]; cacheSpec.attentionLayers = []; cacheSpec.relationLayers = []; cacheSpec.logits = [.topk]
        let folder = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let caches = try TrainFixtures.caches(spec: cacheSpec, in: folder, trainRows: 8, devRows: 2)
        func message(_ spec: TrainSpec) -> String {
            do { _ = try StudentTrainer(spec: spec, cache: caches.train, teacherDirectory: TrainFixtures.teacher("cls"), logger: logger); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(message(TrainFixtures.spec([.hiddenMSE: 1])).contains("--hidden 0,2"), message(TrainFixtures.spec([.hiddenMSE: 1])))
        XCTAssertTrue(message(TrainFixtures.spec([.attentionKL: 1])).contains("--attention 2"))
        XCTAssertTrue(message(TrainFixtures.spec([.relations: 1])).contains("--relations 2"))
        XCTAssertTrue(message(TrainFixtures.spec([.kd: 1])).contains("--logits topk full"), message(TrainFixtures.spec([.kd: 1])))
        var wide = TrainFixtures.spec([.kdTopk: 1])
        wide.student.hiddenSize = 16; wide.student.heads = 2
        XCTAssertTrue(message(wide).contains("equal widths"), message(wide))
        var heads = TrainFixtures.spec([.attentionKL: 1])
        heads.student.heads = 2; heads.student.initialization = .random
        XCTAssertTrue(message(heads).contains("heads"))
    }

    func testTeacherLayerChoices() throws {
        XCTAssertEqual(try StudentFactory.teacherLayers(.lower, studentLayers: 3, teacherLayers: 6), [1, 2, 3])
        XCTAssertEqual(try StudentFactory.teacherLayers(.upper, studentLayers: 3, teacherLayers: 6), [4, 5, 6])
        XCTAssertEqual(try StudentFactory.teacherLayers(.uniform, studentLayers: 3, teacherLayers: 6), [2, 4, 6])
        XCTAssertEqual(try StudentFactory.teacherLayers(.uniform, studentLayers: 6, teacherLayers: 12), [2, 4, 6, 8, 10, 12])
        XCTAssertEqual(try StudentFactory.teacherLayers(.list([1, 3, 5]), studentLayers: 3, teacherLayers: 6), [1, 3, 5])
        XCTAssertThrowsError(try StudentFactory.teacherLayers(.list([1, 7]), studentLayers: 2, teacherLayers: 6))
        XCTAssertThrowsError(try StudentFactory.teacherLayers(.lower, studentLayers: 7, teacherLayers: 6))
    }

    /// Copying layer 2 of the teacher puts exactly its weights in student layer 1.
    func testInitialisationCopiesChosenTeacherLayers() throws {
        var spec = TrainFixtures.spec([.kd: 1])
        spec.student.initialization = .teacher(.list([2]))
        let trainer = try trainer(spec)
        let teacher = try BertModel.load(directory: TrainFixtures.teacher("cls"))
        let s = trainer.student.layout.layers[0], t = teacher.layout.layers[1]
        for (a, b) in zip(s.tensors, t.tensors) {
            XCTAssertEqual(Array(UnsafeBufferPointer(start: trainer.student.parameters[a], count: a.count)),
                           Array(UnsafeBufferPointer(start: teacher.parameters[b], count: b.count)), a.name)
        }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: trainer.student.parameters[trainer.student.layout.wordEmbeddings], count: 64)),
                       Array(UnsafeBufferPointer(start: teacher.parameters[teacher.layout.wordEmbeddings], count: 64)))
    }

    func testLayerMappings() throws {
        XCTAssertEqual(try LayerMapping.uniform.resolve(studentLayers: 3, teacherLayers: 6, includesEmbeddings: true, what: "hidden").map { [$0.student, $0.teacher] },
                       [[0, 0], [1, 2], [2, 4], [3, 6]])
        XCTAssertEqual(try LayerMapping.uniform.resolve(studentLayers: 3, teacherLayers: 6, includesEmbeddings: false, what: "attention").map { [$0.student, $0.teacher] },
                       [[1, 2], [2, 4], [3, 6]])
        XCTAssertEqual(try LayerMapping.last.resolve(studentLayers: 3, teacherLayers: 12, includesEmbeddings: false, what: "x").map { [$0.student, $0.teacher] }, [[3, 12]])
        XCTAssertThrowsError(try LayerMapping.uniform.resolve(studentLayers: 4, teacherLayers: 6, includesEmbeddings: true, what: "hidden"))
        XCTAssertThrowsError(try LayerMapping(parsing: "1:2,3").resolve(studentLayers: 3, teacherLayers: 6, includesEmbeddings: false, what: "x"))
        XCTAssertThrowsError(try LayerMapping(parsing: "4:2").resolve(studentLayers: 3, teacherLayers: 6, includesEmbeddings: false, what: "x"))
    }

    /// A run folder holds the configuration, metrics, evaluations and Hugging Face checkpoints
    /// whose outputs equal the trained student's.
    func testRunFolderAndExport() throws {
        var spec = TrainFixtures.spec([.kd: 0.5, .ce: 0.5, .hiddenMSE: 1], steps: 6)
        spec.student.hiddenSize = 16; spec.student.heads = 2; spec.student.intermediateSize = 32
        spec.student.initialization = .random
        spec.evalEvery = 3
        let out = Self.folder.appendingPathComponent("run")
        let trainer = try trainer(spec)
        let summary = try trainer.train(dev: Self.caches.dev, run: RunFolder(url: out))
        XCTAssertEqual(summary.evaluations.map(\.step), [3, 6])
        let metrics = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(metrics.count, 6)
        let line = try JSONSerialization.jsonObject(with: Data(metrics[0].utf8)) as! [String: Any]
        for key in ["step", "loss", "losses", "learning_rate", "tokens_per_second", "grad_norm"] { XCTAssertNotNil(line[key], key) }
        let evaluation = summary.evaluations.last!
        XCTAssertNotNil(evaluation.classification)
        XCTAssertEqual(evaluation.classification?.examples, 12)
        XCTAssertNotNil(evaluation.teacherAgreement, "the dev cache holds the teacher's last hidden state and the student has a projection for it")
        for name in ["config.json", "eval.jsonl", "final/config.json", "final/model.safetensors", "final/vocab.txt", "final/projections.safetensors", "best/model.safetensors"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path), name)
        }
        // The exported student computes what the trained one does.
        let exported = try BertModel.load(directory: out.appendingPathComponent("final"))
        XCTAssertEqual(exported.heads.classifierLabels, 3)
        XCTAssertEqual(exported.config.labels, ["negative", "neutral", "positive"])
        let input = BertInput(batch: 1, seq: 5, inputIds: [2, 10, 11, 12, 3], tokenTypeIds: [0, 0, 0, 0, 0], attentionMask: [1, 1, 1, 1, 1])
        let forward = BertForward(model: exported, maxBatch: 1, maxSeq: 5, capture: .logits)
        try forward.run(input)
        let graph = BertTrainingGraph(layout: trainer.student.layout, maxBatch: 1, maxSeq: 5, dropout: 0)
        graph.forward(trainer.student.parameters, input, mlmRows: nil, training: false, seed: 0)
        for j in 0..<3 { XCTAssertEqual(forward.classifierLogits[j], graph.classifierLogits[j], accuracy: 1e-5) }

        // And transformers loads it as a BertForSequenceClassification with the same outputs
        // (Float32 both sides, only summation order differs: 1e-5).
        guard (try? shell("python3 -c 'import torch, transformers'").status) == 0 else {
            print("transformers check skipped: torch/transformers not installed (make setup-reference)")
            return
        }
        let inputFile = Self.folder.appendingPathComponent("student-input.json")
        try #"{"input_ids": [[2, 10, 11, 12, 3]], "token_type_ids": [[0, 0, 0, 0, 0]], "attention_mask": [[1, 1, 1, 1, 1]]}"#
            .write(to: inputFile, atomically: true, encoding: .utf8)
        let result = try runProgram("python3", [packageRoot.appendingPathComponent("scripts/check_student.py").path,
                                                out.appendingPathComponent("final").path, inputFile.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(json["architecture"] as? String, "BertForSequenceClassification")
        let logits = (json["logits"] as! [Double]).map(Float.init)
        for j in 0..<3 { XCTAssertEqual(logits[j], graph.classifierLogits[j], accuracy: 1e-5) }
        let hidden = (json["last_hidden_state"] as! [Double]).map(Float.init)
        let ours = graph.hiddenState(layer: 1)
        XCTAssertEqual(hidden.count, 5 * 16)
        for i in 0..<hidden.count { XCTAssertEqual(hidden[i], ours[i], accuracy: 1e-5) }
        print("transformers loads the exported student: logits \(logits) match Distillery's within 1e-5")
    }

    /// Masked-LM teachers: KD on the cached masked positions and cross-entropy on the original tokens.
    func testMaskedLMStudent() throws {
        let folder = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let caches = try TrainFixtures.caches(teacher: "mlm", in: folder, trainRows: 24, devRows: 8)
        var spec = TrainFixtures.spec([.kd: 1, .ce: 0.5, .kdSampled: 0.5, .kdTopk: 0.5], steps: 6)
        spec.student.dropout = 0
        spec.temperature = 1
        let trainer = try StudentTrainer(spec: spec, cache: caches.train, teacherDirectory: TrainFixtures.teacher("mlm"), logger: logger)
        XCTAssertTrue(trainer.plan.heads.maskedLM)
        let summary = try trainer.train(dev: caches.dev, run: nil)
        XCTAssertTrue(summary.lossHistory.allSatisfy { $0.values.allSatisfy(\.isFinite) })
        XCTAssertNotNil(summary.evaluations.last?.teacherAgreement)
        // And the same with the teacher online (full logits only).
        spec.objectives = [.kd: 1, .ce: 0.5]
        let a = try StudentTrainer(spec: spec, cache: caches.train, teacherDirectory: TrainFixtures.teacher("mlm"), logger: logger).train(dev: nil, run: nil)
        let b = try StudentTrainer(spec: spec, cache: caches.train, teacherDirectory: TrainFixtures.teacher("mlm"), online: true, logger: logger).train(dev: nil, run: nil)
        for (x, y) in zip(a.lossHistory, b.lossHistory) { XCTAssertEqual(x[.kd]!, y[.kd]!, accuracy: 1e-5) }
    }
}

/// Regression teachers (one output): the student learns the teacher's outputs with MSE and is
/// evaluated by its MSE against the gold scores.
final class RegressionTrainerTests: XCTestCase {
    func testRegressionStudentLearnsTheTeachersOutputs() throws {
        let folder = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        // A regression teacher: tiny-base with a one-output head.
        let base = try BertModel.load(directory: TrainFixtures.teacher("base"))
        let teacher = folder.appendingPathComponent("teacher")
        try StudentExport.save(StudentFactory.model(base, withHeads: BertHeads(pooler: true, classifierLabels: 1), seed: 3),
                               to: teacher, tokenizerFrom: TrainFixtures.teacher("base"))

        let words = ["the", "cat", "sat", "on", "a", "mat", "dog", "movie", "was", "good"]
        var urls: [URL] = []
        for (name, rows) in [("train", 24), ("dev", 8)] {
            let lines = (0..<rows).map { i in
                #"{"text": "\#((0..<(2 + i % 7)).map { words[($0 + i) % words.count] }.joined(separator: " "))", "score": \#(Double(i % 5) / 4)}"#
            }
            let data = folder.appendingPathComponent("\(name).jsonl")
            try (lines.joined(separator: "\n") + "\n").write(to: data, atomically: true, encoding: .utf8)
            var spec = CacheSpec()
            spec.maxLength = 16; spec.hiddenLayers = [2]; spec.logits = [.full]
            var options = DatasetReadOptions()
            options.fields = DatasetFields(text: "text", textPair: nil, label: "score", id: nil)
            let out = folder.appendingPathComponent("\(name).h5")
            try CacheBuilder.build(CacheRequest(teacher: teacher, data: [data], readOptions: options, spec: spec, output: out), logger: Logger(label: "test"))
            urls.append(out)
        }
        var spec = TrainFixtures.spec([.mse: 1], steps: 15)
        spec.student.dropout = 0
        spec.learningRate = 3e-3
        let trainer = try StudentTrainer(spec: spec, cache: urls[0], teacherDirectory: teacher, logger: Logger(label: "test"))
        XCTAssertEqual(trainer.plan.classifierLabels, 1)
        let summary = try trainer.train(dev: urls[1], run: nil)
        let losses = summary.lossHistory.map { $0[.mse]! }
        XCTAssertLessThan(losses.suffix(3).reduce(0, +), losses.prefix(3).reduce(0, +), "\(losses)")
        XCTAssertNotNil(summary.evaluations.last?.regressionMSE)
        XCTAssertNil(summary.evaluations.last?.classification)
        // Classification objectives make no sense on one output, and say so.
        spec.objectives = [.kd: 1]
        XCTAssertThrowsError(try StudentTrainer(spec: spec, cache: urls[0], teacherDirectory: teacher, logger: Logger(label: "test"))) { error in
            XCTAssertTrue("\(error)".contains("(regression) head trains with mse"), "\(error)")
        }
    }
}
