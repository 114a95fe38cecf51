import Foundation
import Kernels
import SafeTensors

/// A BERT encoder with its optional heads and weights in one buffer.
public final class BertModel: @unchecked Sendable {
    public let config: BertConfig
    public let parameters: BertParameters
    public var layout: BertLayout { parameters.layout }
    public var heads: BertHeads { parameters.layout.heads }

    public init(config: BertConfig, parameters: BertParameters) {
        self.config = config
        self.parameters = parameters
    }

    /// Loads a Hugging Face folder (`config.json` + `model.safetensors`) saved from `BertModel`,
    /// `BertForSequenceClassification` or `BertForMaskedLM`. Heads are detected from the keys;
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
        // Rename once; afterwards only canonical names are used.
        var original: [String: String] = [:]
        for key in file.tensors.keys {
            let name = CheckpointNames.canonical(key)
            if let other = original[name] {
                throw BertError.weights("\(file.url.path): keys '\(other)' and '\(key)' both name tensor '\(name)'")
            }
            original[name] = key
        }
        let labels = original["classifier.weight"].flatMap { file.tensors[$0]?.shape.first } ?? 0
        let heads = BertHeads(pooler: original["pooler.dense.weight"] != nil,
                              classifierLabels: labels,
                              maskedLM: original["cls.predictions.transform.dense.weight"] != nil)
        if labels > 0 && !heads.pooler {
            throw BertError.weights("\(file.url.path): a classifier without 'pooler.dense.weight' is not a BertForSequenceClassification checkpoint")
        }
        if let names = config.labels, labels > 0, names.count != labels {
            throw BertError.weights("\(file.url.path): config id2label has \(names.count) labels but 'classifier.weight' has \(labels) rows")
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
        let unexpected = original.keys.filter { !used.contains($0) && !CheckpointNames.isHarmlessExtra($0) }.sorted()
        if let first = unexpected.first {
            throw BertError.weights("\(file.url.path): unexpected tensor '\(original[first]!)'"
                                    + (unexpected.count > 1 ? " and \(unexpected.count - 1) more" : ""))
        }
        return BertModel(config: config, parameters: parameters)
    }

    /// Writes a Hugging Face folder's weights (`model.safetensors`) under standard BERT names.
    public func saveWeights(to url: URL, metadata: [String: String] = ["format": "pt"]) throws {
        var writer = SafeTensorsWriter(metadata: metadata)
        for tensor in layout.tensors {
            for part in CheckpointNames.parts(of: tensor, layout: layout) {
                let count = part.shape.reduce(1, *)
                let values = Array(UnsafeBufferPointer(start: parameters[tensor] + part.elementOffset, count: count))
                try writer.add(CheckpointNames.exportName(part.checkpointName, heads: heads), shape: part.shape, floats: values)
            }
        }
        try writer.write(to: url)
    }
}
