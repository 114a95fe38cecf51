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

/// The demo's study as `make demo` reports it (README): six single-seed groups with accuracy,
/// macro_f1 and matthews on dev and test, the teacher's row with a time, one evaluation at the end
/// of the one epoch (kd-lower also at updates 20 and 40). A wide table and flat dev curves.
func demoStudy() -> StudyResults {
    let objectives = ["kd": "kd (ce=0.5, kd=0.5)", "hidden": "hidden (ce=0.5, kd=0.5, hidden_mse=1)",
                      "attention": "attention (ce=0.5, kd=0.5, attention_kl=1)"]
    let mappings = ["kd": "—", "hidden": "hidden uniform", "attention": "attention last"]
    // group: dev and test (accuracy, macro_f1, matthews), training seconds
    let rows: [(String, [Double], [Double], Double)] = [
        ("kd-lower", [0.7200, 0.7182, 0.4457], [0.7500, 0.7499, 0.5003], 275),
        ("kd-upper", [0.7240, 0.7239, 0.4482], [0.7660, 0.7653, 0.5351], 275),
        ("hidden-lower", [0.7340, 0.7336, 0.4694], [0.7520, 0.7518, 0.5048], 276),
        ("hidden-upper", [0.7260, 0.7260, 0.4520], [0.7560, 0.7554, 0.5144], 276),
        ("attention-lower", [0.7020, 0.7009, 0.4071], [0.7320, 0.7320, 0.4641], 276),
        ("attention-upper", [0.7320, 0.7320, 0.4640], [0.7480, 0.7475, 0.4979], 277),
    ]
    func metrics(_ values: [Double]) -> [String: Double] { Dictionary(uniqueKeysWithValues: zip(["accuracy", "macro_f1", "matthews"], values)) }
    let students = rows.enumerated().map { i, row in
        let (group, dev, test, seconds) = row
        let kind = String(group.split(separator: "-")[0])
        let curve = [1, 10, 20, 30, 40, 50, 60, 63].map { CurvePoint(step: $0, value: 0.95 - 0.45 * Double($0) / 63 + 0.01 * Double(i)) }
        let evaluations = (group == "kd-lower" ? [(20, dev[0] - 0.03), (40, dev[0] - 0.01)] : []) + [(63, dev[0])]
        return StudentResult(name: "\(group)-s0", group: group, seed: 0, objectives: objectives[kind]!,
                             initialization: String(group.split(separator: "-")[1]), mapping: mappings[kind]!, size: "3×384",
                             parameters: 17_387_906, dev: metrics(dev), test: metrics(test), trainingSeconds: seconds,
                             curve: curve, evaluations: evaluations.map { CurvePoint(step: $0.0, value: $0.1) })
    }
    return StudyResults(
        name: "demo",
        teacher: TeacherResult(name: "teacher", path: "results/demo/teacher", parameters: 22_713_216, size: "6×384",
                               dev: metrics([0.7600, 0.7599, 0.5206]), test: metrics([0.7880, 0.7876, 0.5782]), trainingSeconds: 99),
        students: students,
        cacheComponents: ["hidden/0": 612.0, "hidden/2": 688, "hidden/4": 690, "hidden/6": 683, "attention/6": 478, "logits/full": 3.9]
            .sorted { $0.key < $1.key }.map { CacheComponent(name: $0.key, storedBytes: Int($0.value * 54_304), bytesPerToken: $0.value) },
        stages: [StageTiming(name: "fine-tune teacher", seconds: 99), StageTiming(name: "cache train", seconds: 30),
                 StageTiming(name: "cache dev", seconds: 6.5), StageTiming(name: "cache test", seconds: 6.5),
                 StageTiming(name: "train students", seconds: 290), StageTiming(name: "evaluate and report", seconds: 60)])
}
