/// Accuracy, macro-F1 and (for two classes) the Matthews correlation of predicted classes.
public struct ClassificationMetrics: Codable, Equatable, Sendable {
    public var examples: Int
    public var accuracy: Double
    /// Unweighted mean over classes of F1 = 2·TP / (2·TP + FP + FN); a class never predicted nor present counts 0.
    public var macroF1: Double
    /// (TP·TN − FP·FN) / √((TP+FP)(TP+FN)(TN+FP)(TN+FN)), 0 when a factor is 0 (as scikit-learn); binary only.
    public var matthews: Double?

    enum CodingKeys: String, CodingKey { case examples, accuracy, macroF1 = "macro_f1", matthews }

    public init(predictions: [Int], labels: [Int], classes: Int) {
        precondition(predictions.count == labels.count, "one prediction per label")
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)  // [gold][predicted]
        for (p, y) in zip(predictions, labels) { confusion[y][p] += 1 }
        examples = labels.count
        let correct = (0..<classes).reduce(0) { $0 + confusion[$1][$1] }
        accuracy = examples == 0 ? 0 : Double(correct) / Double(examples)
        var f1Sum = 0.0
        for k in 0..<classes {
            let tp = confusion[k][k]
            let fp = (0..<classes).reduce(0) { $0 + ($1 == k ? 0 : confusion[$1][k]) }
            let fn = (0..<classes).reduce(0) { $0 + ($1 == k ? 0 : confusion[k][$1]) }
            let denominator = 2 * tp + fp + fn
            f1Sum += denominator == 0 ? 0 : Double(2 * tp) / Double(denominator)
        }
        macroF1 = classes == 0 ? 0 : f1Sum / Double(classes)
        if classes == 2 {
            let tp = Double(confusion[1][1]), tn = Double(confusion[0][0]), fp = Double(confusion[0][1]), fn = Double(confusion[1][0])
            let denominator = ((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)).squareRoot()
            matthews = denominator == 0 ? 0 : (tp * tn - fp * fn) / denominator
        } else {
            matthews = nil
        }
    }
}

/// The index of the largest of `classes` logits starting at `row · classes` (the first on ties).
func argmax(_ logits: UnsafePointer<Float>, row: Int, classes: Int) -> Int {
    var best = 0
    for j in 1..<classes where logits[row * classes + j] > logits[row * classes + best] { best = j }
    return best
}
