import Foundation

/// out (n) += inp (n): the residual connections.
public func addInPlace(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count: Int) {
    parallelFor(count, minimumPerThread: 1 << 15) { range in
        for i in range { out[i] += inp[i] }
    }
}

/// out (n) = tanh(inp (n)): BERT's pooler activation.
public func tanhForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count: Int) {
    for i in 0..<count { out[i] = tanhf(inp[i]) }
}

/// out (B·T, C) = word[ids] + position[t] + tokenType[types]: BERT's embedding sum before LayerNorm.
public func embeddingForward(
    _ out: UnsafeMutablePointer<Float>,
    _ ids: UnsafePointer<Int32>, _ types: UnsafePointer<Int32>,
    _ word: UnsafePointer<Float>, _ position: UnsafePointer<Float>, _ tokenType: UnsafePointer<Float>,
    batch: Int, seq: Int, hidden: Int
) {
    parallelFor(batch * seq, minimumPerThread: 256) { range in
        for row in range {
            let t = row % seq
            let w = word + Int(ids[row]) * hidden, p = position + t * hidden, y = tokenType + Int(types[row]) * hidden
            let o = out + row * hidden
            for i in 0..<hidden { o[i] = w[i] + p[i] + y[i] }
        }
    }
}
