import Bert
import Foundation
import Tokenization

/// Saves a student as a Hugging Face folder that `transformers` loads with `AutoModel` /
/// `AutoModelForSequenceClassification` / `AutoModelForMaskedLM`: config.json, model.safetensors
/// under the family's names (`ModelFamily`), and the teacher's tokenizer files.
public enum StudentExport {
    public static func save(_ model: BertModel, to directory: URL, tokenizerFrom teacherDirectory: URL?) throws {
        let fm = FileManager.default
        // Written next to the target and renamed into place, so a folder that exists is complete.
        let staging = directory.deletingLastPathComponent().appendingPathComponent(".\(directory.lastPathComponent).partial")
        try? fm.removeItem(at: staging)
        do {
            try fm.createDirectory(at: staging, withIntermediateDirectories: true)
            try configJSON(model).write(to: staging.appendingPathComponent("config.json"))
            try model.saveWeights(to: staging.appendingPathComponent("model.safetensors"))
            if let teacherDirectory {
                for name in TokenizerFormat.folderFiles {
                    let source = teacherDirectory.appendingPathComponent(name)
                    if fm.fileExists(atPath: source.path) { try fm.copyItem(at: source, to: staging.appendingPathComponent(name)) }
                }
            }
            if fm.fileExists(atPath: directory.path) { try fm.removeItem(at: directory) }
            try fm.moveItem(at: staging, to: directory)
        } catch {
            try? fm.removeItem(at: staging)
            throw DistillationError.io("cannot save the student to \(directory.path): \(error)")
        }
    }

    /// BertConfig's keys (named as the family names them) plus what `transformers` needs to pick the class and name the labels.
    static func configJSON(_ model: BertModel) throws -> Data {
        var config = try JSONSerialization.jsonObject(with: JSONEncoder().encode(model.config)) as! [String: Any]
        let heads = model.heads, architectures = model.config.family.architectures
        if heads.classifierLabels > 0 {
            config["architectures"] = [architectures.classifier]
            let names = model.config.labels ?? (0..<heads.classifierLabels).map { "LABEL_\($0)" }
            config["id2label"] = Dictionary(uniqueKeysWithValues: names.enumerated().map { (String($0.offset), $0.element) })
            config["label2id"] = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($0.element, $0.offset) })
            if heads.classifierLabels == 1 { config["problem_type"] = "regression" }
        } else if heads.maskedLM {
            config["architectures"] = [architectures.maskedLM]
        } else {
            config["architectures"] = [architectures.encoder]
        }
        return try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
    }
}
