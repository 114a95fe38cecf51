/// Reads TSV or CSV: the first record is the header unless `hasHeader` is
/// false, and every later record becomes a row through the column layout.
func readDelimited(
    _ bytes: Bytes, format: DatasetFormat, file: String, options: DatasetReadOptions,
    _ emit: (Result<RawExample, RowError>) throws -> Void
) throws {
    var layout = options.hasHeader ? nil : try ColumnLayout(indices: options.fields, file: file)
    let handle = { (record: Result<DelimitedRecord, RowError>) throws in
        guard layout != nil else {
            // Nothing can be read without the header, so its errors always throw.
            layout = try ColumnLayout(header: record.get(), fields: options.fields, file: file)
            return
        }
        switch record {
        case .failure(let error): try emit(.failure(error))
        case .success(let record): try emit(layout!.row(from: record, labelMap: options.labelMap, file: file))
        }
    }
    switch format {
    case .tsv: try forEachTSVRecord(bytes, file: file, handle)
    case .csv: try forEachCSVRecord(bytes, file: file, handle)
    case .jsonl: preconditionFailure("JSON Lines is not a delimited format")
    }
}
