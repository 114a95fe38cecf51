import Foundation
import Kernels

/// The k most probable ids of one teacher distribution, with their log-probabilities normalised over the
/// *full* vocabulary (so the tail mass 1 − Σ exp(logProbs) is implied). Sorted by decreasing probability,
/// ties (equal logits) by smaller id.
public struct TopK: Sendable, Equatable {
    public var ids: [Int32]
    public var logProbs: [Float]

    public init(ids: [Int32], logProbs: [Float]) {
        precondition(ids.count == logProbs.count, "TopK: \(ids.count) ids for \(logProbs.count) log-probabilities")
        self.ids = ids
        self.logProbs = logProbs
    }

    /// The probability of every id not kept, 1 − Σ_k exp(logProb) (summed in Double, at least 0): the
    /// "ghost token" of the tail-mass KD loss.
    public var tailMass: Float {
        var kept = 0.0
        for l in logProbs { kept += exp(Double(l)) }
        return Float(max(0, 1 - kept))
    }
}

/// What the cache stores instead of full teacher logits (see OBJECTIVES.md, "Sparse teacher distributions"):
/// the top k log-probabilities, or N ids sampled from the teacher softmax (Anshumann et al. 2025,
/// "Sparse Logit Sampling: Accelerating Knowledge Distillation in LLMs").
///
/// Both work on one row of V logits in a few passes and allocate nothing V-sized: the max (an integer
/// reduction on order-preserving keys), Σ exp(z − max) in blocks of 64 (vectorised exp, Double
/// accumulators), then a selection (top-k) or an inverse-CDF walk over sorted uniforms (sampling).
/// Temperature τ > 0 divides the logits: z = logit/τ. Logits must be finite (the cache checks the teacher's
/// outputs first); −infinity is allowed (probability 0); a NaN gives meaningless results, but no crash.
public enum SparseLogits {
    /// Logits per block of the exp sums (and per re-computation in the sampling walk).
    static let blockSize = 64

    // MARK: - Top-k

    /// log-softmax(logits/τ) over the full vocabulary (z − logsumexp(z), the sum of exponentials in Double),
    /// then the k largest, sorted by decreasing probability, ties by smaller id. k larger than the row keeps
    /// the whole row. O(V + h·log k) with h the heap insertions: about k·ln(V/k) for logits in no
    /// particular order, V for logits sorted ascending.
    public static func topK(_ logits: UnsafeBufferPointer<Float>, k: Int, temperature: Float = 1) -> TopK {
        precondition(k >= 0, "SparseLogits.topK: k must be non-negative, got \(k)")
        let kept = min(k, logits.count)
        var ids = [Int32](repeating: 0, count: kept)
        var logProbs = [Float](repeating: 0, count: kept)
        ids.withUnsafeMutableBufferPointer { ids in
            logProbs.withUnsafeMutableBufferPointer { logProbs in
                topKRow(logits, temperature: temperature, ids: ids, logProbs: logProbs)
            }
        }
        return TopK(ids: ids, logProbs: logProbs)
    }

    /// The batched form for the cache writer: logits (rows, width) → ids, logProbs (rows, k), rows split over
    /// `Threads.count` workers. Nothing is allocated: the selection heap lives in the output rows.
    public static func topK(rows logits: UnsafeBufferPointer<Float>, width: Int, k: Int, temperature: Float = 1,
                            ids: UnsafeMutableBufferPointer<Int32>, logProbs: UnsafeMutableBufferPointer<Float>) {
        precondition(width > 0 && logits.count % width == 0, "SparseLogits.topK: \(logits.count) logits are not rows of \(width)")
        precondition(k >= 0 && k <= width, "SparseLogits.topK: k = \(k) must be in 0...\(width) for rows of \(width)")
        let rows = logits.count / width
        precondition(ids.count == rows * k && logProbs.count == rows * k,
                     "SparseLogits.topK: outputs of \(ids.count) ids and \(logProbs.count) log-probs for \(rows) rows × k \(k)")
        parallelFor(rows, minimumPerThread: 4) { range in
            for r in range {
                topKRow(UnsafeBufferPointer(rebasing: logits[(r * width)..<((r + 1) * width)]), temperature: temperature,
                        ids: UnsafeMutableBufferPointer(rebasing: ids[(r * k)..<((r + 1) * k)]),
                        logProbs: UnsafeMutableBufferPointer(rebasing: logProbs[(r * k)..<((r + 1) * k)]))
            }
        }
    }

    /// One row: the k = ids.count best ids and their log-probabilities. The selection is a heap of the k best
    /// (value, id) seen so far, kept in the output buffers with the *worst* at the root: scanning ids in
    /// ascending order, a logit enters only when strictly larger than the root's (an equal one has a larger id,
    /// so loses the tie). Heap sort then orders the k best in place, and their logits become log-probabilities.
    static func topKRow(_ logits: UnsafeBufferPointer<Float>, temperature: Float,
                        ids: UnsafeMutableBufferPointer<Int32>, logProbs: UnsafeMutableBufferPointer<Float>) {
        precondition(temperature > 0 && temperature.isFinite, "SparseLogits: temperature must be positive, got \(temperature)")
        let k = ids.count
        guard k > 0 else { return }
        precondition(logits.count <= Int(Int32.max), "SparseLogits: ids must fit Int32")
        let values = logProbs  // holds raw logits until the end

        // worse(a, b): a ranks below b.
        @inline(__always) func worse(_ a: Int, _ b: Int) -> Bool {
            values[a] < values[b] || (values[a] == values[b] && ids[a] > ids[b])
        }
        @inline(__always) func siftDown(_ start: Int, _ end: Int) {
            var parent = start
            while true {
                var child = 2 * parent + 1
                if child >= end { return }
                if child + 1 < end && worse(child + 1, child) { child += 1 }
                if !worse(child, parent) { return }
                values.swapAt(parent, child)
                ids.swapAt(parent, child)
                parent = child
            }
        }

        // Selection: the first k fill the heap, each later one replaces the root when strictly better.
        for i in 0..<k {
            values[i] = logits[i]
            ids[i] = Int32(i)
        }
        for i in stride(from: k / 2 - 1, through: 0, by: -1) { siftDown(i, k) }
        var threshold = values[0]  // the root's logit, kept in a register for the scan
        for i in k..<logits.count where logits[i] > threshold {
            values[0] = logits[i]
            ids[0] = Int32(i)
            siftDown(0, k)
            threshold = values[0]
        }
        // Heap sort: moving the root (worst) to the end each time leaves the best first.
        for end in stride(from: k - 1, to: 0, by: -1) {
            values.swapAt(0, end)
            ids.swapAt(0, end)
            siftDown(0, end)
        }

        // log p = z − (m + log Σ exp(z − m)), in Double, rounded once.
        let m = maxScaled(logits, temperature: temperature)
        let logNormaliser = Double(m) + log(expSums(logits, temperature: temperature, max: m, blockSums: nil))
        for i in 0..<k { values[i] = Float(Double(values[i] / temperature) - logNormaliser) }
    }

    // MARK: - Random-sampling KD

    /// Random-Sampling KD (Anshumann et al. 2025): `draws` draws with replacement from softmax(logits/τ);
    /// returns the distinct ids (ascending) with their counts (sum = draws). The KD target is t̂_i = c_i/N.
    /// Uniforms have 53 bits and are sorted, then one walk over the vocabulary's cumulative sums assigns them
    /// (inverse CDF): O(V + N·log N + N·64), with no V-sized scratch. Never returns an id of probability 0; ids
    /// less likely than e⁻⁸⁷ times the most likely are never drawn (exp flushes to 0 there). Consumes exactly
    /// `draws` values of `generator`. Logits that are all −∞ or hold a NaN give no ids (counts then sum to 0).
    public static func sample(_ logits: UnsafeBufferPointer<Float>, draws: Int, temperature: Float,
                              generator: inout SeededGenerator) -> (ids: [Int32], counts: [UInt16]) {
        precondition(temperature > 0 && temperature.isFinite, "SparseLogits: temperature must be positive, got \(temperature)")
        precondition(draws >= 0 && draws <= Int(UInt16.max), "SparseLogits.sample: draws must be in 0...65535, got \(draws)")
        precondition(!logits.isEmpty || draws == 0, "SparseLogits.sample: no logits to draw from")
        precondition(logits.count <= Int(Int32.max), "SparseLogits: ids must fit Int32")
        guard draws > 0 else { return ([], []) }
        let blockCount = (logits.count + blockSize - 1) / blockSize
        let m = maxScaled(logits, temperature: temperature)

        var ids: [Int32] = []
        var counts: [UInt16] = []
        withUnsafeTemporaryAllocation(of: Double.self, capacity: blockCount) { blockSums in
            withUnsafeTemporaryAllocation(of: Double.self, capacity: draws) { uniforms in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: blockSize) { weights in
                    let total = expSums(logits, temperature: temperature, max: m, blockSums: blockSums)
                    guard total > 0 && total.isFinite else { return }  // NaN logits: nothing sensible to draw
                    // Sorted targets u·total with u uniform in [0, 1) (53 bits), kept below total should the
                    // product round up to it.
                    var targets = uniforms
                    for j in 0..<draws { targets[j] = min(Double(generator.next() >> 11) * 0x1p-53 * total, total.nextDown) }
                    targets.sort()

                    // Walk: blockStart is the cumulative weight before block b (the block sums added in the same
                    // order as `total`, so a target < total stops in a block of positive weight); inside the
                    // loaded block, `cumulative` is the weight before scan position i. Targets ascend, so
                    // both positions only move forward.
                    var b = 0, blockStart = 0.0
                    var loaded = -1, n = 0
                    var i = 0, cumulative = 0.0
                    for t in UnsafeBufferPointer(targets) {
                        while b < blockCount - 1 && blockStart + blockSums[b] <= t {
                            blockStart += blockSums[b]
                            b += 1
                        }
                        if loaded != b {
                            n = blockExps(logits, block: b, temperature: temperature, max: m, into: weights)
                            loaded = b
                            i = 0
                            cumulative = blockStart
                        }
                        while i < n - 1 && cumulative + Double(weights[i]) <= t {
                            cumulative += Double(weights[i])
                            i += 1
                        }
                        // Only rounding (block sum vs the running sum) can stop the scan on a weight-0 id at the
                        // block's end: step back to one of positive weight.
                        var j = i
                        while weights[j] == 0 && j > 0 { j -= 1 }
                        let id = Int32(b * blockSize + j)
                        if ids.last == id {
                            counts[counts.count - 1] += 1
                        } else {
                            ids.append(id)
                            counts.append(1)
                        }
                    }
                }
            }
        }
        return (ids, counts)
    }

    // MARK: - Shared passes

    /// max_i (logit_i / τ), equal to (max_i logit_i)/τ since dividing by τ > 0 keeps the order. An integer
    /// max over order-preserving keys (it vectorises; a Float max does not without fast-math).
    static func maxScaled(_ logits: UnsafeBufferPointer<Float>, temperature: Float) -> Float {
        @inline(__always) func key(_ x: Float) -> Int32 {
            let b = Int32(bitPattern: x.bitPattern)
            return b ^ ((b >> 31) & 0x7fff_ffff)  // negative floats: flip the magnitude so larger is larger
        }
        var best = Int32.min
        for x in logits { best = max(best, key(x)) }
        let m = Float(bitPattern: UInt32(bitPattern: best ^ ((best >> 31) & 0x7fff_ffff)))
        return m / temperature
    }

    /// exp(logit/τ − m) for block b into weights; returns the block's length.
    @inline(__always)
    static func blockExps(_ logits: UnsafeBufferPointer<Float>, block b: Int, temperature: Float, max m: Float,
                          into weights: UnsafeMutableBufferPointer<Float>) -> Int {
        let start = b * blockSize
        let n = min(blockSize, logits.count - start)
        let block = logits.baseAddress! + start  // indexing from here keeps overflow checks out of the loop, so it vectorises
        if temperature == 1 {  // x/1 = x exactly: the division (a quarter of the loop's time) is skipped
            for j in 0..<n { weights[j] = fastExp(block[j] - m) }
        } else {
            for j in 0..<n { weights[j] = fastExp(block[j] / temperature - m) }
        }
        return n
    }

    /// Σ_i exp(logit_i/τ − m) in Double: per block of 64 (stored in blockSums when given), the blocks added in order.
    static func expSums(_ logits: UnsafeBufferPointer<Float>, temperature: Float, max m: Float,
                        blockSums: UnsafeMutableBufferPointer<Double>?) -> Double {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: blockSize) { weights in
            var total = 0.0
            let blockCount = (logits.count + blockSize - 1) / blockSize
            for b in 0..<blockCount {
                let n = blockExps(logits, block: b, temperature: temperature, max: m, into: weights)
                // Four accumulators: four independent add chains instead of one.
                var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
                var j = 0
                while j + 4 <= n {
                    s0 += Double(weights[j]); s1 += Double(weights[j + 1])
                    s2 += Double(weights[j + 2]); s3 += Double(weights[j + 3])
                    j += 4
                }
                while j < n { s0 += Double(weights[j]); j += 1 }
                let sum = (s0 + s1) + (s2 + s3)
                blockSums?[b] = sum
                total += sum
            }
            return total
        }
    }
}
