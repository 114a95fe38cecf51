import Foundation

/// Linear warm-up from 0 to the peak rate over `warmupSteps`, then linear or cosine decay to 0 at
/// `totalSteps` (the schedules of BERT fine-tuning and of most distillation recipes).
public struct LearningRateSchedule: Codable, Equatable, Sendable {
    public enum Decay: String, Codable, CaseIterable, Sendable { case linear, cosine, constant }

    public var peak: Float
    public var warmupSteps: Int
    public var totalSteps: Int
    public var decay: Decay

    public init(peak: Float, warmupSteps: Int, totalSteps: Int, decay: Decay) {
        self.peak = peak; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps; self.decay = decay
    }

    /// The rate for 0-based `step` (the rate the step-th update uses).
    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps) }
        let span = max(1, totalSteps - warmupSteps)
        let progress = min(1, Double(step - warmupSteps) / Double(span))
        switch decay {
        case .constant: return peak
        case .linear: return peak * Float(1 - progress)
        case .cosine: return peak * Float(0.5 * (1 + cos(Double.pi * progress)))
        }
    }
}
