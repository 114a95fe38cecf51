// Python's `str.lower()`, which HF applies per whitespace-separated word. Swift's
// `lowercased()` differs in one place that matters: Python maps capital sigma to final sigma
// (ς) at the end of a word, Swift always to σ.

enum PythonLowercase {
    private static let capitalSigma: Unicode.Scalar = "\u{03A3}"
    private static let smallSigma: Unicode.Scalar = "\u{03C3}"
    private static let finalSigma: Unicode.Scalar = "\u{03C2}"

    /// Full lower-case mapping per scalar (İ becomes i + U+0307), with CPython's Final_Sigma rule.
    static func lowercased(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(scalars.count)
        for (i, scalar) in scalars.enumerated() {
            if scalar.value < 0x80 {
                let value = scalar.value
                out.append((0x41...0x5A).contains(value) ? Unicode.Scalar(value | 0x20)! : scalar)
            } else if scalar == capitalSigma {
                out.append(isFinalSigma(at: i, in: scalars) ? finalSigma : smallSigma)
            } else if scalar.properties.changesWhenLowercased {
                out.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return out
    }

    /// CPython `handle_capital_sigma`: cased letter, case-ignorables, Σ, and no cased letter after
    /// any case-ignorables that follow.
    private static func isFinalSigma(at index: Int, in scalars: [Unicode.Scalar]) -> Bool {
        var before = index - 1
        while before >= 0 && scalars[before].properties.isCaseIgnorable { before -= 1 }
        guard before >= 0 && scalars[before].properties.isCased else { return false }
        var after = index + 1
        while after < scalars.count && scalars[after].properties.isCaseIgnorable { after += 1 }
        return after == scalars.count || !scalars[after].properties.isCased
    }
}
