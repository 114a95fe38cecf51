import Datasets
import Foundation
import Logging
import TeacherCache
import TestSupport
import XCTest
@testable import Distillation

/// On a small real labelled set (Rotten Tomatoes review sentences, `pipelines/data/rotten_tomatoes.py`),
/// a distilled student beats the same student trained with cross-entropy alone. Needs
/// all-MiniLM-L6-v2 and the data, and about ten minutes on two cores: `make check-real` runs it
/// (DISTILLERY_REAL_DATA names the data folder); otherwise it is skipped.
///
/// 1. Fine-tune the teacher: all-MiniLM-L6-v2 with a new two-class head, trained with CE
///    (`TeacherFinetuning`, what `distillery finetune` runs).
/// 2. Cache the fine-tuned teacher over train and dev.
/// 3. Train a 2-layer student (teacher layers 1-2) twice with the same seed: CE alone, and
///    CE + KD + hidden MSE + attention KL. Compare dev accuracy.
final class RealDataTests: XCTestCase {
    func testDistilledStudentBeatsCrossEntropyAlone() throws {
        guard let dataPath = ProcessInfo.processInfo.environment["DISTILLERY_REAL_DATA"] else {
            throw XCTSkip("set DISTILLERY_REAL_DATA to data/rotten-tomatoes (make check-real fetches it)")
        }
        let minilm = URL(fileURLWithPath: ProcessInfo.processInfo.environment["DISTILLERY_MINILM"] ?? packageRoot.appendingPathComponent("models/all-MiniLM-L6-v2").path)
        guard FileManager.default.fileExists(atPath: minilm.appendingPathComponent("model.safetensors").path) else { throw XCTSkip("all-MiniLM-L6-v2 missing: make models") }
        let data = URL(fileURLWithPath: dataPath)
        let work = try makeTemporaryDirectory("distillery-real")
        defer { try? FileManager.default.removeItem(at: work) }
        let logger = Logger(label: "real")
        var options = DatasetReadOptions()
        options.fields = DatasetFields(text: "text", textPair: nil, label: "label", id: nil)

        func cache(_ teacher: URL, _ split: String, _ name: String, _ configure: (inout CacheSpec) -> Void) throws -> URL {
            var spec = CacheSpec()
            spec.maxLength = 64
            configure(&spec)
            let out = work.appendingPathComponent("\(name)-\(split).h5")
            try CacheBuilder.build(CacheRequest(teacher: teacher, data: [data.appendingPathComponent("\(split).jsonl")], readOptions: options,
                                                spec: spec, output: out), logger: logger)
            return out
        }

        // 1. Fine-tune the teacher (learning rate 5e-5, warm-up 0.1, batch 32, dropout 0.1: the defaults).
        var finetune = FinetuneRequest(model: minilm, train: data.appendingPathComponent("train.jsonl"), dev: data.appendingPathComponent("dev.jsonl"),
                                       readOptions: options, output: work.appendingPathComponent("teacher"))
        finetune.maxLength = 64
        finetune.spec.epochs = 2
        let tuned = try TeacherFinetuning.run(finetune, logger: logger)
        let teacherAccuracy = tuned.best!.classification!.accuracy

        // 2. Cache the fine-tuned teacher.
        let teacher = tuned.model
        func full(_ spec: inout CacheSpec) { spec.hiddenLayers = [0, 3, 6]; spec.attentionLayers = [6]; spec.logits = [.full] }
        let train = try cache(teacher, "train", "tuned", full), dev = try cache(teacher, "dev", "tuned", full)

        // 3. The same student, CE alone and distilled.
        func student(_ objectives: [ObjectiveKind: Float]) throws -> Double {
            var spec = TrainSpec()
            spec.student.layers = 2
            spec.student.initialization = .teacher(.lower)
            spec.objectives = objectives
            spec.hiddenMapping = try LayerMapping(parsing: "0:0,1:3,2:6")
            spec.attentionMapping = try LayerMapping(parsing: "2:6")
            spec.epochs = 3
            spec.learningRate = 1e-4
            let summary = try StudentTrainer(spec: spec, cache: train, teacherDirectory: teacher, logger: logger).train(dev: dev, run: nil)
            return summary.evaluations.last!.classification!.accuracy
        }
        let alone = try student([.ce: 1])
        let distilled = try student([.ce: 0.5, .kd: 0.5, .hiddenMSE: 1, .attentionKL: 1])
        print(String(format: "real data (Rotten Tomatoes, 4,000 train / 1,000 dev): fine-tuned teacher %.3f; 2-layer student, CE alone %.3f, distilled (CE + KD + hidden MSE + attention KL) %.3f",
                     teacherAccuracy, alone, distilled))
        XCTAssertGreaterThan(distilled, alone, "the distilled student should beat CE alone on dev")
    }
}
