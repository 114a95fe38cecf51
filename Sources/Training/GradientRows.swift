/// Which rows of a (rows, width) gradient may be nonzero since the optimiser last consumed it.
///
/// A word-embedding table's gradient only gets the rows of the batch's token ids (a few hundred of
/// 30,522), and everywhere else it is exactly zero. The gradient norm and AdamW then skip reading
/// (and re-zeroing) the untouched rows: a sum gains nothing from +0 and AdamW's update with a zero
/// gradient is computed as it was, so no bit changes. Whoever adds into the gradient reports the
/// rows it touched (`add`), or that it touched any row (`addAll`); the optimiser `clear`s it once
/// it has consumed the gradient. Until then nothing is known, and every row is read.
public final class GradientRows {
    /// Values per row, and rows in the table.
    public let width: Int, count: Int
    /// Ascending, without repeats; nil when any row may be nonzero.
    public private(set) var rows: [Int]?
    private var marks: [Bool]

    public init(width: Int, count: Int) {
        self.width = width; self.count = count
        marks = [Bool](repeating: false, count: count)
    }

    /// A backward added into these rows (each in 0..<count).
    public func add(_ touched: UnsafePointer<Int32>, count n: Int) {
        guard let known = rows else { return }
        for r in known { marks[r] = true }
        for i in 0..<n {
            let r = Int(touched[i])
            precondition(r >= 0 && r < count, "gradient row \(r) outside 0..<\(count)")
            marks[r] = true
        }
        var union: [Int] = []
        for r in 0..<count where marks[r] { union.append(r); marks[r] = false }
        rows = union
    }

    /// A backward may have added into any row (a tied output layer).
    public func addAll() { rows = nil }

    /// The optimiser consumed the gradient: every row is zero again.
    public func clear() { rows = [] }

    /// The runs of rows to read within the flat range `range` of the table: each range of values
    /// covers touched rows only, in ascending order (nil rows: the whole range, one run).
    func touchedRuns(in range: Range<Int>) -> [Range<Int>] {
        guard let rows else { return [range] }
        var runs: [Range<Int>] = []
        // First row that ends after range.lowerBound.
        var lo = 0, hi = rows.count
        while lo < hi { let mid = (lo + hi) / 2; if (rows[mid] + 1) * width <= range.lowerBound { lo = mid + 1 } else { hi = mid } }
        var k = lo
        while k < rows.count, rows[k] * width < range.upperBound {
            let start = max(range.lowerBound, rows[k] * width)
            var end = min(range.upperBound, (rows[k] + 1) * width)
            // Adjacent rows form one run.
            while k + 1 < rows.count, rows[k + 1] * width == end, end < range.upperBound {
                k += 1
                end = min(range.upperBound, (rows[k] + 1) * width)
            }
            runs.append(start..<end)
            k += 1
        }
        return runs
    }
}
