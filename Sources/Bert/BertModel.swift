import Foundation
import Kernels
import SafeTensors

/// A BERT-family encoder (`config.family`) with its optional heads and weights in one buffer.
public final class BertModel: @unchecked Sendable {
    public let config: BertConfig
    public let parameters: BertParameters
    public var layout: BertLayout { parameters.layout }
    public var heads: BertHeads { parameters.layout.heads }

    public init(config: BertConfig, parameters: BertParameters) {
        self.config = config
        self.parameters = parameters
    }

    /// Loads a Hugging Face folder (`config.json` + `model.safetensors`) saved from a family's base
    /// model, sequence classifier or masked LM (`BertModel`, `RobertaForMaskedLM`, …). Heads are detected from the keys;
    /// the check is strict: every expected key present with its exact shape, no unexpected keys
    /// beyond the harmless ones listed in `CheckpointNames`.
    public static func load(directory: URL) throws -> BertModel {
        let config = try BertConfig.load(from: directory.appendingPathComponent("config.json"))
        let weightsURL = directory.appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: weightsURL.path) else { throw BertError.missingFile(weightsURL.path) }
        let file = try SafeTensorsFile(url: weightsURL)
        return try load(config: config, weights: file)
    }

    static func load(config: BertConfig, weights file: SafeTensorsFile) throws -> BertModel {
        let family = config.family
        // Rename once; afterwards only canonical names are used.
        var original: [String: String] = [:]
        for key in file.tensors.keys {
            let name = CheckpointNames.canonical(key, family: family)
            if let other = original[name] {
                throw BertError.weights("\(file.url.path): keys '\(other)' and '\(key)' both name tensor '\(name)'")
            }
            original[name] = key
        }
        // The heads, from the keys that only each head has (named as the family names them).
        func has(_ bertName: String, _ heads: BertHeads) -> String? {
            original[CheckpointNames.checkpointName(bertName, family: family, heads: heads)]
        }
        let classifierKey = has("classifier.weight", BertHeads(pooler: true, classifierLabels: 1))
        let labels = classifierKey.flatMap { file.tensors[$0]?.shape.first } ?? 0
        let pooler = labels > 0 ? has("pooler.dense.weight", BertHeads(pooler: true, classifierLabels: 1)) != nil
                                : family.encoderHasPooler && has("pooler.dense.weight", BertHeads()) != nil
        let heads = BertHeads(pooler: pooler, classifierLabels: labels,
                              maskedLM: has("cls.predictions.transform.dense.weight", BertHeads(pooler: false, maskedLM: true)) != nil)
        if labels > 0 && !heads.pooler {
            let dense = CheckpointNames.checkpointName("pooler.dense.weight", family: family, heads: heads)
            throw BertError.weights("\(file.url.path): a classifier without '\(dense)' is not a \(family.architectures.classifier) checkpoint")
        }
        if let names = config.labels, labels > 0, names.count != labels {
            throw BertError.weights("\(file.url.path): config id2label has \(names.count) labels but the classifier has \(labels) rows")
        }
        let layout = BertLayout(config: config, heads: heads)
        // Every tensor the config implies is checked against the file's header before the
        // buffer is allocated: a config that says 100,000 layers fails here, naming the first
        // missing tensor, instead of asking for hundreds of gigabytes.
        for tensor in layout.tensors {
            for part in CheckpointNames.parts(of: tensor, layout: layout) {
                guard let key = original[part.checkpointName], let stored = file.tensors[key] else {
                    throw BertError.weights("\(file.url.path): missing tensor '\(part.checkpointName)' (expected shape \(part.shape) from config.json)")
                }
                guard stored.shape == part.shape else {
                    throw BertError.weights("\(file.url.path): tensor '\(key)' has shape \(stored.shape), config.json implies \(part.shape)")
                }
            }
        }
        let parameters = BertParameters(layout: layout)

        var used = Set<String>()
        for tensor in layout.tensors {
            for part in CheckpointNames.parts(of: tensor, layout: layout) {
                let key = original[part.checkpointName]!
                let values = try file.floats(key, shape: part.shape)
                values.withUnsafeBufferPointer { src in
                    (parameters[tensor] + part.elementOffset).update(from: src.baseAddress!, count: src.count)
                }
                used.insert(part.checkpointName)
            }
        }
        let unexpected = original.keys.filter { !used.contains($0) && !CheckpointNames.isHarmlessExtra($0, family: family) }.sorted()
        if let first = unexpected.first {
            throw BertError.weights("\(file.url.path): unexpected tensor '\(original[first]!)'"
                                    + (unexpected.count > 1 ? " and \(unexpected.count - 1) more" : ""))
        }
        return BertModel(config: config, parameters: parameters)
    }

    /// Writes a Hugging Face folder's weights (`model.safetensors`) under the family's names.
    public func saveWeights(to url: URL, metadata: [String: String] = ["format": "pt"]) throws {
        var writer = SafeTensorsWriter(metadata: metadata)
        for tensor in layout.tensors {
            for part in CheckpointNames.parts(of: tensor, layout: layout) {
                let count = part.shape.reduce(1, *)
                let values = Array(UnsafeBufferPointer(start: parameters[tensor] + part.elementOffset, count: count))
                try writer.add(CheckpointNames.exportName(part.checkpointName, bertName: tensor.name, layout: layout), shape: part.shape, floats: values)
            }
        }
        try writer.write(to: url)
    }
}
