/// Backward of `tanhForward`: out = tanh(inp)  →  dinp (n) += dout · (1 - out²), from the saved output.
public func tanhBackward(
    _ dinp: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>, _ out: UnsafePointer<Float>,
    count: Int
) {
    for i in 0..<count { dinp[i] += dout[i] * (1 - out[i] * out[i]) }
}

/// Backward of `embeddingForward`: out[row] = word[ids[row]] + position[positions[row]] + tokenType[types[row]].
/// dout (B·T, C); dword (V, C), dposition (P, C), dtokenType (types, C; nil without token types) are
/// ADDED into at the rows used. Split over hidden columns: each worker owns a column slice of all
/// three tables and walks the rows in order, so repeated ids accumulate deterministically and without races.
public func embeddingBackward(
    _ dword: UnsafeMutablePointer<Float>, _ dposition: UnsafeMutablePointer<Float>, _ dtokenType: UnsafeMutablePointer<Float>?,
    _ dout: UnsafePointer<Float>,
    _ ids: UnsafePointer<Int32>, _ positions: UnsafePointer<Int32>, _ types: UnsafePointer<Int32>?,
    rows: Int, hidden: Int
) {
    parallelFor(hidden, minimumPerThread: 64) { columns in
        for row in 0..<rows {
            let g = dout + row * hidden
            let w = dword + Int(ids[row]) * hidden, p = dposition + Int(positions[row]) * hidden
            for i in columns {
                w[i] += g[i]
                p[i] += g[i]
            }
            if let dtokenType, let types {
                let y = dtokenType + Int(types[row]) * hidden
                for i in columns { y[i] += g[i] }
            }
        }
    }
}

/// Backward of `reluForward`: out = max(inp, 0)  →  dinp (n) += dout where out > 0, from the saved output.
public func reluBackward(
    _ dinp: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>, _ out: UnsafePointer<Float>,
    count: Int
) {
    for i in 0..<count where out[i] > 0 { dinp[i] += dout[i] }
}
