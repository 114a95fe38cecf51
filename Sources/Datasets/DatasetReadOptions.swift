/// How to read a dataset file.
public struct DatasetReadOptions: Sendable {
    /// The file format; nil infers it from the file extension.
    public var format: DatasetFormat?
    public var fields: DatasetFields
    /// Skip rows that cannot be read, counting them in the report, instead of
    /// throwing the first one's error. Header and file errors always throw.
    public var skipBadRows: Bool = false
    /// TSV/CSV: the first row names the columns. Without a header, `fields`
    /// holds 0-based column indices ("0", "1", ...). Ignored for JSON Lines.
    public var hasHeader: Bool = true
    /// The fixed class names; a row with a label outside it is an error.
    ///
    /// Without one, the map is built from the data: the distinct class names,
    /// sorted. Sorted rather than first-seen so that the indices depend only on
    /// which names occur, not on row order (shuffling a file keeps its map).
    /// A split that may lack some classes (validation, test) should be read
    /// with the training split's map passed here. Numeric labels build no map.
    public var labelMap: LabelMap?

    public init(
        format: DatasetFormat? = nil,
        fields: DatasetFields = DatasetFields(),
        skipBadRows: Bool = false,
        hasHeader: Bool = true,
        labelMap: LabelMap? = nil
    ) {
        self.format = format
        self.fields = fields
        self.skipBadRows = skipBadRows
        self.hasHeader = hasHeader
        self.labelMap = labelMap
    }
}
