import Kernels
import Settings

/// The masked-LM input of one sequence and what the teacher must predict.
public struct MaskingPlan: Sendable, Equatable {
    /// The sequence with the selected positions replaced ([MASK], a random id, or kept).
    public var maskedInputIds: [Int32]
    /// The selected positions, ascending, within the sequence: where the MLM loss is taken.
    public var positions: [Int32]
    /// The original ids at `positions`: the MLM labels.
    public var originalIds: [Int32]

    public init(maskedInputIds: [Int32], positions: [Int32], originalIds: [Int32]) {
        self.maskedInputIds = maskedInputIds
        self.positions = positions
        self.originalIds = originalIds
    }
}

/// BERT's masking settings (Devlin et al. 2019; Hugging Face `DataCollatorForLanguageModeling` defaults).
public struct MaskingOptions: Sendable, Equatable, Codable, HasSettings {
    /// The chance that a non-special position is selected (an independent Bernoulli draw per position).
    public var probability: Float = 0.15
    /// Of the selected positions, the share replaced by [MASK].
    public var maskFraction: Float = 0.8
    /// Of the selected positions, the share replaced by a random id; the rest (0.1 by default) are kept.
    public var randomFraction: Float = 0.1
    public var seed: UInt64 = 0

    public init(probability: Float = 0.15, maskFraction: Float = 0.8, randomFraction: Float = 0.1, seed: UInt64 = 0) {
        self.probability = probability
        self.maskFraction = maskFraction
        self.randomFraction = randomFraction
        self.seed = seed
    }

    /// The `masking:` block of a cache spec; keys it does not know are passed over, as they always
    /// were. Its rules are `problem`'s (and the cache spec's, for the probability).
    public static let settings = SettingsTable<MaskingOptions>(defaults: MaskingOptions(), invalid: CacheError.invalidSpec, refusesUnknownKeys: false, [
        Setting("probability", \.probability, flag: "mask-probability", help: "Masked-LM teachers: fraction of tokens masked"),
        Setting("mask_fraction", \.maskFraction, yamlOnly: true, help: "Of the selected positions, the share replaced by [MASK]"),
        Setting("random_fraction", \.randomFraction, yamlOnly: true, help: "Of the selected positions, the share replaced by a random id"),
        Setting("seed", \.seed, yamlOnly: true, help: "Seed of the masking (`--seed` sets it with the cache's seed)"),
    ])

    /// Missing keys take their defaults, so a configuration may name only what it changes.
    public init(from decoder: any Decoder) throws { self = try Self.settings.decode(from: decoder) }
    public func encode(to encoder: any Encoder) throws { try Self.settings.encode(self, to: encoder) }

    /// Why these options cannot be used, or nil: each share in [0, 1], maskFraction + randomFraction ≤ 1.
    public var problem: String? {
        for (name, value) in [("probability", probability), ("maskFraction", maskFraction), ("randomFraction", randomFraction)]
        where !(value >= 0 && value <= 1) {
            return "masking \(name) must be in [0, 1], got \(value)"
        }
        if maskFraction + randomFraction > 1 {
            return "masking maskFraction + randomFraction must be at most 1, got \(maskFraction) + \(randomFraction)"
        }
        return nil
    }
}

/// BERT masked-LM masking, applied once in stage one so that the teacher sees exactly the inputs the
/// student will.
public enum Masking {
    /// BERT's masking for one sequence, as Hugging Face's `DataCollatorForLanguageModeling`: each position whose
    /// id is not in `specialIds` is selected with `probability` (Bernoulli); a selected position becomes
    /// `maskId` with probability `maskFraction`, an id uniform over 0..<vocabularySize (any id, specials
    /// included, as HF's `torch.randint(len(tokenizer))`) with `randomFraction`, and stays as it is otherwise.
    /// `specialIds` should hold every id HF's special-tokens mask covers ([CLS], [SEP], [PAD], [UNK], [MASK]).
    ///
    /// Deterministic in (options.seed, sequenceIndex, view): the draws come from
    /// `SeededGenerator(seed: options.seed, stream: sequenceIndex << 16 | view)`, one stream per pair, so a
    /// sequence's mask does not depend on batching or on the other sequences. Per non-special position, in
    /// order: one `nextUnitFloat()` u, selected when u < probability; if selected, one `nextUnitFloat()` v
    /// ([MASK] when v < maskFraction, random when v < maskFraction + randomFraction) and, for a random id,
    /// one unbiased bounded draw (Lemire's multiply-and-reject on `next()`).
    public static func mask(_ ids: [Int32], specialIds: Set<Int32>, maskId: Int32, vocabularySize: Int, options: MaskingOptions,
                            sequenceIndex: Int, view: Int) -> MaskingPlan {
        if let problem = options.problem { preconditionFailure(problem) }
        precondition(vocabularySize > 0 && vocabularySize <= Int(Int32.max) + 1, "Masking: vocabularySize \(vocabularySize) out of range")
        precondition(sequenceIndex >= 0 && sequenceIndex < 1 << 47, "Masking: sequenceIndex \(sequenceIndex) out of 0..<2^47")
        precondition(view >= 0 && view < 1 << 16, "Masking: view \(view) out of 0..<65536")
        var generator = SeededGenerator(seed: options.seed, stream: UInt64(sequenceIndex) << 16 | UInt64(view))

        var masked = ids
        var positions: [Int32] = []
        var originals: [Int32] = []
        let keepThreshold = options.maskFraction + options.randomFraction
        for (i, id) in ids.enumerated() where !specialIds.contains(id) {
            guard generator.nextUnitFloat() < options.probability else { continue }
            positions.append(Int32(i))
            originals.append(id)
            let v = generator.nextUnitFloat()
            if v < options.maskFraction {
                masked[i] = maskId
            } else if v < keepThreshold {
                masked[i] = Int32(uniform(below: UInt64(vocabularySize), using: &generator))
            }
        }
        return MaskingPlan(maskedInputIds: masked, positions: positions, originalIds: originals)
    }

    /// Uniform in 0..<n without bias (Lemire 2019): the high half of next()·n, rejecting the few low halves
    /// that would favour some values. Written here, not `Int.random(in:using:)`, so that masks stay the same
    /// whatever the standard library does.
    static func uniform(below n: UInt64, using generator: inout SeededGenerator) -> UInt64 {
        var product = generator.next().multipliedFullWidth(by: n)
        if product.low < n {
            let threshold = (0 &- n) % n  // 2^64 mod n
            while product.low < threshold { product = generator.next().multipliedFullWidth(by: n) }
        }
        return product.high
    }
}
