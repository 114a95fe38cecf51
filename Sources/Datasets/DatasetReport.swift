/// What happened while reading: rows kept, rows skipped and why.
public struct DatasetReport: Sendable, Equatable {
    /// How many of the skipped rows' errors are kept in `skipped`.
    public static let keptErrorLimit = 10

    /// Rows turned into examples (blank lines and the header are not rows).
    public var rowsRead: Int
    /// Rows skipped with `skipBadRows`.
    public var rowsSkipped: Int
    /// The first `keptErrorLimit` errors of the skipped rows, in file order.
    public var skipped: [RowError]

    public init(rowsRead: Int = 0, rowsSkipped: Int = 0, skipped: [RowError] = []) {
        self.rowsRead = rowsRead
        self.rowsSkipped = rowsSkipped
        self.skipped = skipped
    }
}

/// A row that cannot be read, at the line where it starts:
/// "data/train.tsv:17: missing field 'label'".
public struct RowError: Error, CustomStringConvertible, Sendable, Equatable {
    public let file: String
    /// 1-based; for a CSV record spanning lines, the line it starts on.
    public let line: Int
    public let reason: String

    public init(file: String, line: Int, reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }

    public var description: String { "\(file):\(line): \(reason)" }
}
