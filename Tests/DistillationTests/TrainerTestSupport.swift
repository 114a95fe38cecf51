import Datasets
import Foundation
import Logging
import TeacherCache
import TestSupport
import XCTest
@testable import Distillation

/// Tiny teachers (Tests/Fixtures/bert/tiny-*: 2 layers, hidden 32, 4 heads) and caches built from them.
enum TrainFixtures {
    static func teacher(_ kind: String) -> URL { packageRoot.appendingPathComponent("Tests/Fixtures/bert/tiny-\(kind)") }

    /// A cache of everything the objectives can use, fp32 so that online and cached targets agree exactly.
    static func everythingSpec(maskedLM: Bool = false) -> CacheSpec {
        var spec = CacheSpec()
        spec.maxLength = 32
        spec.batchSize = 8
        spec.hiddenLayers = [0, 1, 2]
        spec.attentionLayers = [1, 2]
        spec.relationLayers = [1, 2]
        spec.logits = [.full, .topk, .sampled]
        spec.topK = maskedLM ? 10 : 2
        spec.sampledDraws = 20
        spec.codecs.hidden = .fp32; spec.codecs.attention = .fp32; spec.codecs.relations = .fp32; spec.codecs.logits = .fp32
        spec.commitEvery = 1 << 20
        return spec
    }

    /// Builds train and dev caches for a tiny teacher in `folder`.
    static func caches(teacher kind: String = "cls", spec: CacheSpec? = nil, in folder: URL, trainRows: Int = 40, devRows: Int = 12) throws -> (train: URL, dev: URL) {
        try caches(teacher: teacher(kind), spec: spec ?? everythingSpec(maskedLM: kind == "mlm"), labelled: kind != "mlm",
                   in: folder, trainRows: trainRows, devRows: devRows)
    }

    /// The same for any teacher folder (labelled data unless it is a masked LM).
    static func caches(teacher: URL, spec: CacheSpec, labelled: Bool = true, in folder: URL, trainRows: Int = 40, devRows: Int = 12) throws -> (train: URL, dev: URL) {
        var options = DatasetReadOptions()
        options.fields = DatasetFields(text: "text", textPair: nil, label: labelled ? "label" : nil, id: "id")
        var urls: [URL] = []
        for (name, rows, offset) in [("train", trainRows, 0), ("dev", devRows, 1000)] {
            let data = try writeLabelledSentences(in: folder, rows: rows, name: "\(name).jsonl", offset: offset)
            let out = folder.appendingPathComponent("\(name).h5")
            try CacheBuilder.build(CacheRequest(teacher: teacher, data: [data], readOptions: options, spec: spec, output: out), logger: Logger(label: "test"))
            urls.append(out)
        }
        return (urls[0], urls[1])
    }

    static func spec(_ objectives: [ObjectiveKind: Float], steps: Int = 4) -> TrainSpec {
        var spec = TrainSpec()
        spec.objectives = objectives
        spec.student.layers = 1
        spec.batchSize = 8
        spec.maxSteps = steps
        spec.learningRate = 1e-3
        spec.warmupRatio = 0
        spec.relationHeads = 4
        spec.logEvery = 1
        return spec
    }
}
