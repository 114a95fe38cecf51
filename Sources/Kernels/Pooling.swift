/// How a sequence's hidden states become one vector: the first token's ([CLS] / <s>), or the
/// mean over its real tokens (sentence-transformers' mean pooling, specials included).
public enum Pooling: String, Codable, CaseIterable, Sendable {
    case first, mean
}

/// out (B, C) = pool(h (B, T, C)) over each row's real tokens; mask (B, T), 1 = real, a prefix of
/// each row with at least one real token.
public func poolForward(_ out: UnsafeMutablePointer<Float>, _ h: UnsafePointer<Float>, _ mask: UnsafePointer<Int32>,
                        pooling: Pooling, batch: Int, seq: Int, width: Int) {
    for b in 0..<batch {
        let o = out + b * width, row = h + b * seq * width
        switch pooling {
        case .first:
            o.update(from: row, count: width)
        case .mean:
            let n = realTokens(mask + b * seq, seq: seq)
            o.update(repeating: 0, count: width)
            for t in 0..<n { for i in 0..<width { o[i] += row[t * width + i] } }
            let scale = 1 / Float(max(1, n))
            for i in 0..<width { o[i] *= scale }
        }
    }
}

/// Backward of `poolForward`: first: dh[b, 0] += dout[b]; mean: dh[b, t] += dout[b] / n_b at each
/// real token t. dh (B, T, C) is ADDED into.
public func poolBackward(_ dh: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, _ mask: UnsafePointer<Int32>,
                         pooling: Pooling, batch: Int, seq: Int, width: Int) {
    for b in 0..<batch {
        let g = dout + b * width, row = dh + b * seq * width
        switch pooling {
        case .first:
            for i in 0..<width { row[i] += g[i] }
        case .mean:
            let n = realTokens(mask + b * seq, seq: seq)
            let scale = 1 / Float(max(1, n))
            for t in 0..<n { for i in 0..<width { row[t * width + i] += g[i] * scale } }
        }
    }
}

/// Real tokens of one row: the length of its prefix of 1s.
private func realTokens(_ mask: UnsafePointer<Int32>, seq: Int) -> Int {
    var n = 0
    while n < seq && mask[n] != 0 { n += 1 }
    return n
}
