import Bert
import Foundation
import TeacherCache
import Tokenization

/// Task metrics of a saved model (a teacher, or a student's best/ checkpoint) on the labelled
/// sequences of a cache: only the inputs and gold labels are read, the model runs forward. A
/// model whose folder holds another tokenizer than the cache's teacher (a student with its own)
/// encodes each example's cached text with it.
public enum ModelEvaluation {
    public static func classification(model folder: URL, cache url: URL, batchSize: Int = 64) throws -> ClassificationMetrics {
        let model: BertModel
        do { model = try BertModel.load(directory: folder) } catch {
            throw DistillationError.io("cannot load the model to evaluate from \(folder.path): \(error)")
        }
        return try classification(model: model, from: folder, cache: url, batchSize: batchSize)
    }

    /// The same for a model already loaded from `folder` (named in errors), so that a caller
    /// scoring it on several caches loads it once.
    public static func classification(model: BertModel, from folder: URL, cache url: URL, batchSize: Int = 64) throws -> ClassificationMetrics {
        let classes = model.heads.classifierLabels
        guard classes > 1 else { throw DistillationError.incompatible("\(folder.path) has no classification head to evaluate") }
        let cache = try CacheReader(url: url)
        let maxSeq = min(cache.spec.maxLength, model.config.maxSequenceLength)
        let forward = BertForward(model: model, maxBatch: batchSize, maxSeq: maxSeq, capture: [.logits])
        var predictions: [Int] = [], gold: [Int] = []
        let tokenizer = try ownTokenizer(of: folder, cache: cache)
        let batches = CacheBatches(reader: cache, options: .init(batchSize: batchSize, selection: CacheSelection(texts: tokenizer != nil)))
        while let batch = try batches.nextBatch() {
            let rows = try batch.map { s -> (inputIds: [Int32], tokenTypeIds: [Int32]) in
                guard let tokenizer else { return (s.inputIds, s.tokenTypeIds) }
                guard let text = s.text else { throw DistillationError.incompatible("\(url.path) stores no example texts for \(folder.path)'s own tokenizer; rebuild the cache") }
                return tokenizer.encodeIds(text, pair: s.textPair, maxLength: maxSeq)
            }
            try forward.run(BertInput(padding: rows, padId: Int32(model.config.padTokenId)))
            let logits = forward.classifierLogits
            for (b, sequence) in batch.enumerated() {
                guard let label = sequence.label else { continue }
                predictions.append(argmax(logits.baseAddress!, row: b, classes: classes)); gold.append(Int(label))
            }
        }
        guard !gold.isEmpty else { throw DistillationError.missingTargets("\(url.path) holds no gold labels to evaluate on") }
        return ClassificationMetrics(predictions: predictions, labels: gold, classes: classes)
    }

    /// The folder's tokenizer when it is not the one the cache's teacher used (nil: the cached ids serve).
    static func ownTokenizer(of folder: URL, cache: CacheReader) throws -> (any Tokenizer)? {
        guard let vocabulary = try? VocabularyIdentity.sha256(of: folder), vocabulary != cache.provenance.teacher.vocabularySHA256 else { return nil }
        return try loadTokenizer(modelDirectory: folder)
    }
}
