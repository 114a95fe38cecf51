import Bert
import Foundation
import TeacherCache
import Training

/// Evaluates the student on a dev cache (built with the same spec from held-out data): task
/// metrics from gold labels, the distillation losses on held-out rows, and — when the dev cache
/// holds the teacher's last hidden state — the student–teacher agreement. It is given what it
/// reads (the training plan and cache when made; the graph, weights and objectives when it
/// evaluates), never the trainer.
final class DevEvaluator {
    let cache: CacheReader
    let plan: TrainingPlan
    let targets: TargetBatch

    /// A dev cache checked against the training run's `train` plan and `trainingCache`.
    init(url: URL, train: TrainingPlan, trainingCache: CacheReader, maxSeq: Int) throws {
        cache = try CacheReader(url: url)
        guard cache.provenance.teacher.weightsSHA256 == train.teacher.weightsSHA256 else {
            throw DistillationError.incompatible("dev cache \(url.path) was built by another teacher (\(cache.provenance.teacher.path)) than the training cache (\(train.teacher.path))")
        }
        // Labels are stored as indices into each cache's own label map: the same names in the same
        // order, or the dev metrics would compare different classes (a dev file changed after the
        // training cache was built, say).
        if let trainNames = trainingCache.labelNames, let devNames = cache.labelNames, trainNames != devNames {
            throw DistillationError.incompatible("dev cache \(url.path) has labels \(devNames), the training cache \(trainingCache.url.path) \(trainNames); rebuild the dev cache from data with the same classes")
        }
        guard cache.spec.maxLength <= trainingCache.spec.maxLength else {
            throw DistillationError.incompatible("dev cache \(url.path) has max length \(cache.spec.maxLength), longer than the training cache's \(trainingCache.spec.maxLength)")
        }
        var plan: TrainingPlan
        do { plan = try TrainingPlan(spec: train.spec, student: train.student, cache: cache, tokenizer: train.studentTokenizer) } catch let error as DistillationError {
            throw DistillationError.missingTargets("dev cache \(url.path): \(error)")
        }
        let last = plan.teacher.layers
        if cache.spec.hiddenLayers.contains(last) && !plan.selection.hiddenLayers.contains(last) {
            plan.selection.hiddenLayers.append(last)
        }
        self.plan = plan
        let logitWidth = cache.isMaskedLM ? plan.teacher.vocabularySize : max(1, plan.classifierLabels)
        targets = TargetBatch(plan: plan, maxBatch: train.spec.batchSize, maxSeq: maxSeq, logitWidth: logitWidth, topK: cache.spec.topK)
    }

    /// The student `parameters` on the whole dev cache, through `graph` (no dropout) and `objectives`.
    func evaluate(step: Int, graph: BertTrainingGraph, parameters: BertParameters, objectives: DistillationObjectives) throws -> Evaluation {
        let classes = plan.classifierLabels
        var lossSums: [ObjectiveKind: Double] = [:], totalSum = 0.0, batches = 0
        var predictions: [Int] = [], gold: [Int] = [], squaredError = 0.0, regressionRows = 0
        var agreementSum = 0.0, agreementTokens = 0
        let reader = CacheBatches(reader: cache, options: .init(batchSize: plan.spec.batchSize, selection: plan.selection))
        while let sequences = try reader.nextBatch() {
            try targets.fill(sequences)
            graph.forward(parameters, targets.input, mlmRows: plan.heads.maskedLM ? targets.logitRows : nil, training: false, seed: 0)
            let losses = objectives.compute(graph: graph, targets: targets, gradients: false)
            for (k, v) in losses.values { lossSums[k, default: 0] += v }
            totalSum += losses.total; batches += 1
            if classes > 1 && !plan.isMaskedLM {
                let logits = graph.classifierLogits
                for (b, s) in sequences.enumerated() {
                    guard let label = s.label else { continue }
                    predictions.append(argmax(UnsafePointer(logits), row: b, classes: classes)); gold.append(Int(label))
                }
            } else if classes == 1 {
                for (b, s) in sequences.enumerated() {
                    guard let label = s.label else { continue }
                    let e = Double(graph.classifierLogits[b] - label)
                    squaredError += e * e; regressionRows += 1
                }
            }
            if let agreement = objectives.teacherAgreement(graph: graph, targets: targets) {
                agreementSum += agreement * Double(targets.tokens); agreementTokens += targets.tokens
            }
        }
        let n = Double(max(1, batches))
        return Evaluation(step: step, loss: totalSum / n, losses: lossSums.mapValues { $0 / n },
                          classification: gold.isEmpty ? nil : ClassificationMetrics(predictions: predictions, labels: gold, classes: classes),
                          regressionMSE: regressionRows == 0 ? nil : squaredError / Double(regressionRows),
                          teacherAgreement: agreementTokens == 0 ? nil : agreementSum / Double(agreementTokens))
    }
}
