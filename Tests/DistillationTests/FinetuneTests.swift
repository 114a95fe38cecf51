import Bert
import Datasets
import Foundation
import Logging
import TeacherCache
import TestSupport
import XCTest
@testable import Distillation

/// Fine-tuning a headless pretrained model (the tiny fixture tiny-base) on labelled data, and using
/// the result as a teacher.
final class FinetuneTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try makeTemporaryDirectory("distillery-finetune-tests") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private var options: DatasetReadOptions {
        var options = DatasetReadOptions()
        options.fields = DatasetFields(text: "text", textPair: nil, label: "label", id: "id")
        return options
    }

    /// The synthetic sentences' label is fixed by their first word (word index ≡ row mod 3), so a
    /// model that learns to read position 1 gets them all; chance is 1/3.
    func testFinetunedModelLearnsTheLabelsAndServesAsATeacher() throws {
        let train = try writeLabelledSentences(in: folder, rows: 120, name: "train.jsonl")
        let dev = try writeLabelledSentences(in: folder, rows: 30, name: "dev.jsonl", offset: 1000)
        var request = FinetuneRequest(model: TrainFixtures.teacher("base"), train: train, dev: dev, readOptions: options,
                                      output: folder.appendingPathComponent("run"))
        request.maxLength = 32
        request.spec.epochs = 8
        request.spec.batchSize = 16
        request.spec.learningRate = 2e-3   // a tiny random model; real ones take the 5e-5 default
        let summary = try TeacherFinetuning.run(request, logger: Logger(label: "test"))

        // Dev accuracy clearly above chance, evaluated after every epoch; best/ is the teacher.
        let best = try XCTUnwrap(summary.best?.classification)
        print(String(format: "fine-tuned tiny-base on 120 synthetic sentences: dev accuracy %.3f (chance 0.333) after %d steps; per epoch %@",
                     best.accuracy, summary.training.steps,
                     summary.training.evaluations.map { String(format: "%.2f", $0.classification!.accuracy) }.joined(separator: " ")))
        XCTAssertGreaterThanOrEqual(best.accuracy, 0.8)
        XCTAssertEqual(summary.training.evaluations.count, 8)
        XCTAssertEqual(summary.model, request.output.appendingPathComponent("best"))
        XCTAssertEqual(summary.training.steps, 8 * 8)
        let configuration = try JSONSerialization.jsonObject(with: Data(contentsOf: request.output.appendingPathComponent("config.json"))) as! [String: Any]
        XCTAssertEqual(configuration["initialized_from_teacher_layers"] as? [Int], [1, 2], "every layer copied")
        XCTAssertEqual(((configuration["spec"] as? [String: Any])?["objectives"] as? [String: Double]), ["ce": 1])

        // The caches it trained on hold inputs and labels only, and verify.
        for url in [summary.trainCache, summary.devCache!] {
            let reader = try CacheReader(url: url)
            XCTAssertTrue(reader.spec.isInputsOnly)
            XCTAssertEqual(reader.labelNames, ["negative", "neutral", "positive"])
            XCTAssertTrue(try CacheVerification.run(url).ok)
        }

        // The saved model: the base model's shape with a three-class head named by the data.
        let tuned = try BertModel.load(directory: summary.model)
        let base = try BertModel.load(directory: TrainFixtures.teacher("base"))
        XCTAssertEqual(tuned.heads.classifierLabels, 3)
        XCTAssertEqual(tuned.config.labels, ["negative", "neutral", "positive"])
        XCTAssertEqual([tuned.config.numHiddenLayers, tuned.config.hiddenSize, tuned.config.intermediateSize, tuned.config.numAttentionHeads],
                       [base.config.numHiddenLayers, base.config.hiddenSize, base.config.intermediateSize, base.config.numAttentionHeads])

        // It is a teacher: a cache built from it has its classifier logits, whose argmax on dev
        // gives the accuracy the fine-tuning reported.
        var spec = CacheSpec()
        spec.maxLength = 32
        spec.logits = [.full]
        spec.codecs.logits = .fp32
        let teacherCache = folder.appendingPathComponent("teacher-dev.h5")
        _ = try CacheBuilder.build(CacheRequest(teacher: summary.model, data: [dev], readOptions: options, spec: spec, output: teacherCache),
                               logger: Logger(label: "test"))
        let reader = try CacheReader(url: teacherCache)
        XCTAssertEqual(reader.provenance.teacher.head, "classifier")
        XCTAssertEqual(reader.provenance.teacher.classifierLabels, 3)
        let sequences = try reader.sequences(0..<reader.sequenceCount, selection: CacheSelection(logits: [.full]))
        var correct = 0
        for s in sequences {
            XCTAssertEqual(s.fullLogits.count, 3)
            let predicted = s.fullLogits.indices.max { s.fullLogits[$0] < s.fullLogits[$1] }!
            if Float(predicted) == s.label { correct += 1 }
        }
        let cachedAccuracy = Double(correct) / Double(sequences.count)
        XCTAssertEqual(cachedAccuracy, best.accuracy, accuracy: 1.5 / 30, "the teacher's cached logits agree with the dev evaluation")

        // And transformers loads it as a BertForSequenceClassification with the same logits.
        guard (try? shell("python3 -c 'import torch, transformers'").status) == 0 else {
            print("transformers check skipped: torch/transformers not installed (make setup-reference)")
            return
        }
        let first = sequences[0]
        let input = folder.appendingPathComponent("input.json")
        let ids = first.inputIds.map(String.init).joined(separator: ", ")
        try #"{"input_ids": [[\#(ids)]], "token_type_ids": [[\#(first.tokenTypeIds.map(String.init).joined(separator: ", "))]], "attention_mask": [[\#(first.inputIds.map { _ in "1" }.joined(separator: ", "))]]}"#
            .write(to: input, atomically: true, encoding: .utf8)
        let result = try runProgram("python3", [packageRoot.appendingPathComponent("scripts/check_student.py").path, summary.model.path, input.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(json["architecture"] as? String, "BertForSequenceClassification")
        XCTAssertEqual(json["id2label"] as? [String], ["negative", "neutral", "positive"])
        let logits = (json["logits"] as! [Double]).map(Float.init)
        XCTAssertEqual(logits.count, 3)
        for j in 0..<3 { XCTAssertEqual(logits[j], first.fullLogits[j], accuracy: 1e-5) }
        print("transformers loads the fine-tuned model: logits \(logits) match Distillery's \(first.fullLogits) within 1e-5")
    }

    /// Scores instead of classes: a one-output head trained with MSE on the gold scores.
    func testRegressionFinetuningFitsTheScores() throws {
        let words = ["the", "cat", "sat", "on", "a", "mat", "dog", "movie", "was", "good"]
        func write(_ name: String, rows: Int, offset: Int) throws -> URL {
            // The score is fixed by the first word (i mod 10 → i mod 5).
            let lines = (0..<rows).map { r -> String in
                let i = r + offset
                return #"{"id": "r\#(i)", "text": "\#((0..<(2 + i % 7)).map { words[($0 + i) % words.count] }.joined(separator: " "))", "label": \#(Double(i % 5) / 4)}"#
            }
            let url = folder.appendingPathComponent(name)
            try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
            return url
        }
        var request = FinetuneRequest(model: TrainFixtures.teacher("base"), train: try write("train.jsonl", rows: 80, offset: 0),
                                      dev: try write("dev.jsonl", rows: 20, offset: 500), readOptions: options, output: folder.appendingPathComponent("run"))
        request.regression = true
        request.maxLength = 16
        request.spec.epochs = 20
        request.spec.batchSize = 16
        request.spec.learningRate = 3e-3
        let summary = try TeacherFinetuning.run(request, logger: Logger(label: "test"))
        let mse = summary.training.evaluations.map { $0.regressionMSE! }
        let losses = summary.training.lossHistory.map { $0[.mse]! }
        print("regression fine-tuning: dev MSE per epoch \(mse.map { String(format: "%.3f", $0) }); scores' variance 0.125")
        XCTAssertLessThan(losses.suffix(5).reduce(0, +), losses.prefix(5).reduce(0, +), "\(losses)")
        XCTAssertLessThan(summary.best!.regressionMSE!, 0.03, "well below 0.125, the MSE of predicting the mean score")
        let tuned = try BertModel.load(directory: summary.model)
        XCTAssertEqual(tuned.heads.classifierLabels, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: request.output.appendingPathComponent("work/initial").path),
                       "the model-sized initial copy is removed after training")
        XCTAssertEqual(try CacheReader(url: summary.trainCache).sequence(1).label, 0.25)
    }

    func testProblemsAreNamed() throws {
        let train = try writeLabelledSentences(in: folder, rows: 8, name: "train.jsonl")
        func message(_ configure: (inout FinetuneRequest) -> Void) -> String {
            var request = FinetuneRequest(model: TrainFixtures.teacher("base"), train: train, dev: nil, readOptions: options,
                                          output: folder.appendingPathComponent("run"))
            configure(&request)
            do { _ = try TeacherFinetuning.run(request, logger: Logger(label: "test")); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(message { $0.model = self.folder.appendingPathComponent("nope") }.contains("no model folder at \(folder.path)/nope"))
        XCTAssertTrue(message { $0.readOptions.fields.label = nil }.contains("--label-field"))
        let unlabelled = folder.appendingPathComponent("unlabelled.jsonl")
        try #"{"id": "a", "text": "the cat"}"#.write(to: unlabelled, atomically: true, encoding: .utf8)
        // A label field the rows lack stops at the first such row, naming it.
        XCTAssertTrue(message { $0.train = unlabelled }.contains("unlabelled.jsonl:1"), message { $0.train = unlabelled })
    }
}
