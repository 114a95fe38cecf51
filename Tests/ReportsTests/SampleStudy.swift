import Foundation
@testable import Reports

/// A small study: two groups of three and one seed, a failed seed, a teacher with dev and test.
func sampleStudy() -> StudyResults {
    func student(_ group: String, _ seed: UInt64, dev: Double?, test: Double?, failed: Bool = false) -> StudentResult {
        StudentResult(name: "\(group)-s\(seed)", group: group, seed: seed, objectives: "ce=0.5, kd=0.5", initialization: "lower",
                      mapping: "hidden uniform", size: "3×384", parameters: 17_000_000,
                      status: failed ? "failed: out of memory" : "trained",
                      dev: dev.map { ["accuracy": $0, "macro_f1": $0 - 0.01] } ?? [:], test: test.map { ["accuracy": $0] } ?? [:],
                      trainingSeconds: failed ? 0 : 100 + Double(seed),
                      curve: failed ? [] : (1...5).map { CurvePoint(step: $0 * 10, value: 2.0 / Double($0) + Double(seed) * 0.01) },
                      evaluations: failed ? [] : [CurvePoint(step: 25, value: (dev ?? 0) - 0.02), CurvePoint(step: 50, value: dev ?? 0)])
    }
    return StudyResults(
        name: "demo",
        teacher: TeacherResult(name: "MiniLM-L6", path: "runs/teacher/best", parameters: 22_713_216, size: "6×384",
                               dev: ["accuracy": 0.90, "macro_f1": 0.89], test: ["accuracy": 0.88], trainingSeconds: 600),
        students: [student("kd-lower", 0, dev: 0.80, test: 0.78), student("attention-lower", 0, dev: 0.84, test: 0.83),
                   student("kd-lower", 1, dev: 0.82, test: 0.80), student("kd-lower", 2, dev: 0.84, test: 0.79),
                   student("attention-lower", 1, dev: nil, test: nil, failed: true), student("random", 0, dev: 0.70, test: nil)],
        cacheComponents: [CacheComponent(name: "hidden/3", storedBytes: 3_000_000, bytesPerToken: 420.5),
                          CacheComponent(name: "logits/full", storedBytes: 40_000, bytesPerToken: 5.6)],
        stages: [StageTiming(name: "fine-tune teacher", seconds: 600), StageTiming(name: "cache train", seconds: 75.5),
                 StageTiming(name: "train students", seconds: 3725)])
}
