/// Where each configured field sits in a TSV/CSV record, and how many
/// columns every record must have.
struct ColumnLayout {
    struct Column {
        var field: String  // the configured name or index, for messages
        var index: Int
    }

    var text: Column
    var textPair: Column?
    var label: Column?
    var id: Column?
    /// Columns every record must have: the header's count, or without a
    /// header the first good row's count (nil until that row is seen).
    var width: Int?
    /// Where `width` came from, for messages: "the header" or "line 3".
    var widthSource: String

    /// Fields named by the header record.
    init(header: DelimitedRecord, fields: DatasetFields, file: String) throws {
        func column(_ name: String) throws -> Column {
            let matches = header.cells.indices.filter { header.cells[$0] == name }
            guard let index = matches.first else {
                let names = header.cells.map { "'\($0)'" }.joined(separator: ", ")
                throw RowError(file: file, line: header.line, reason: "no column '\(name)' in the header (columns: \(names))")
            }
            guard matches.count == 1 else {
                throw RowError(file: file, line: header.line, reason: "column '\(name)' appears \(matches.count) times in the header")
            }
            return Column(field: name, index: index)
        }
        text = try column(fields.text)
        textPair = try fields.textPair.map(column)
        label = try fields.label.map(column)
        id = try fields.id.map(column)
        width = header.cells.count
        widthSource = "the header"
    }

    /// Fields given as 0-based column indices, for files without a header.
    init(indices fields: DatasetFields, file: String) throws {
        func column(_ role: String, _ value: String) throws -> Column {
            guard let index = Int(value), index >= 0 else {
                throw DatasetError(
                    path: file,
                    reason: "without a header, fields are 0-based column indices; the \(role) field is '\(value)'")
            }
            return Column(field: value, index: index)
        }
        text = try column("text", fields.text)
        textPair = try fields.textPair.map { try column("text pair", $0) }
        label = try fields.label.map { try column("label", $0) }
        id = try fields.id.map { try column("id", $0) }
        width = nil
        widthSource = ""
    }

    /// The row in `record`, or why it cannot be read.
    mutating func row(from record: DelimitedRecord, labelMap: LabelMap?, file: String) -> Result<RawExample, RowError> {
        let cells = record.cells
        func failure(_ reason: String) -> Result<RawExample, RowError> {
            .failure(RowError(file: file, line: record.line, reason: reason))
        }
        if let width, cells.count != width {
            return failure("expected \(width) columns as in \(widthSource), found \(cells.count)")
        }
        let used = [text, textPair, label, id].compactMap { $0 }
        if let missing = used.first(where: { $0.index >= cells.count }) {
            return failure("no column \(missing.index) (for field '\(missing.field)') in a row of \(cells.count) columns")
        }
        if width == nil {
            width = cells.count
            widthSource = "line \(record.line)"
        }
        var raw = RawExample(line: record.line, text: cells[text.index])
        raw.textPair = textPair.map { cells[$0.index] }
        raw.label = label.map { delimitedLabel(cells[$0.index], labelMap: labelMap) }
        raw.id = id.map { cells[$0.index] }
        return .success(raw)
    }
}

/// A TSV/CSV cell as a label. Cells are untyped text, so a plain decimal
/// number ("1", "-0.5", "3e2") is a number and anything else a class name,
/// except that a cell spelling one of the fixed map's names is always that name.
func delimitedLabel(_ cell: String, labelMap: LabelMap?) -> Label {
    if let labelMap, labelMap.names.contains(cell) { return .name(cell) }
    // Double(_:) would also take "nan", "inf" and hex floats, which are names here.
    let decimal = !cell.isEmpty && cell.utf8.allSatisfy { "0123456789+-.eE".utf8.contains($0) }
    if decimal, let value = Double(cell), value.isFinite { return .number(value) }
    return .name(cell)
}
