import Bert
import Distillation
import Foundation

/// The teacher the training benchmarks distil from: any BERT folder, given a random two-class
/// head when it has none (KD needs logits; their values do not matter for speed).
enum BenchTeacher {
    static func config(_ folder: URL) throws -> BertConfig {
        try BertConfig.load(from: folder.appendingPathComponent("config.json"))
    }

    static func depth(_ folder: URL) throws -> Int { try config(folder).numHiddenLayers }

    /// `folder`/teacher-with-head: `teacher` with a random two-class head (made once, then reused),
    /// or `teacher` itself when it has a classifier already.
    static func withHead(_ teacher: URL, in folder: URL) throws -> URL {
        let model = try BertModel.load(directory: teacher)
        if model.heads.classifierLabels > 0 { return teacher }
        let headed = folder.appendingPathComponent("teacher-with-head")
        if !FileManager.default.fileExists(atPath: headed.appendingPathComponent("model.safetensors").path) {
            let withHead = StudentFactory.model(model, withHeads: BertHeads(pooler: true, classifierLabels: 2), labels: ["LABEL_0", "LABEL_1"], seed: 0)
            try StudentExport.save(withHead, to: headed, tokenizerFrom: teacher)
        }
        return headed
    }
}
