import Foundation

/// out (n) += inp (n): the residual connections.
public func addInPlace(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count: Int) {
    parallelFor(count, minimumPerThread: 1 << 15) { range in
        for i in range { out[i] += inp[i] }
    }
}

/// out (n) = 0 on all threads: the training graph zeroes hundreds of MB of gradient buffers a step,
/// and one thread's memset left the other cores idle for it.
public func zeroFill(_ out: UnsafeMutablePointer<Float>, count: Int) {
    parallelFor(count, minimumPerThread: 1 << 16) { range in
        (out + range.lowerBound).update(repeating: 0, count: range.count)
    }
}

/// out (n) = tanh(inp (n)): BERT's pooler activation.
public func tanhForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { out[i] = tanhf(inp[i]) }
}

/// out (B·T, C) = word[ids] + position[positions] + tokenType[types]: the embedding sum before
/// LayerNorm. ids, positions, types (B·T); without token types (DistilBERT) both are nil.
public func embeddingForward(
    _ out: UnsafeMutablePointer<Float>,
    _ ids: UnsafePointer<Int32>, _ positions: UnsafePointer<Int32>, _ types: UnsafePointer<Int32>?,
    _ word: UnsafePointer<Float>, _ position: UnsafePointer<Float>, _ tokenType: UnsafePointer<Float>?,
    rows: Int, hidden: Int
) {
    parallelFor(rows, minimumPerThread: 256) { range in
        for row in range {
            let w = word + Int(ids[row]) * hidden, p = position + Int(positions[row]) * hidden
            let o = out + row * hidden
            if let types, let tokenType {
                let y = tokenType + Int(types[row]) * hidden
                for i in 0..<hidden { o[i] = w[i] + p[i] + y[i] }
            } else {
                for i in 0..<hidden { o[i] = w[i] + p[i] }
            }
        }
    }
}

/// out (n) = max(inp (n), 0): DistilBERT's pre-classifier activation.
public func reluForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { out[i] = max(inp[i], 0) }
}
