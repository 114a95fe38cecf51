import Foundation

/// The file formats a dataset can be read from.
public enum DatasetFormat: String, CaseIterable, Sendable {
    /// JSON Lines: one JSON object per line.
    case jsonl
    /// Tab-separated values, no quoting: fields cannot hold tabs or newlines.
    case tsv
    /// Comma-separated values as in RFC 4180 (quoted fields may hold commas, quotes and newlines).
    case csv

    /// The format named by the file's extension (.jsonl, .ndjson, .json, .tsv, .csv), or nil.
    /// A `.json` file is read as JSON Lines: one object per line, not one array.
    public static func infer(from url: URL) -> DatasetFormat? {
        switch url.pathExtension.lowercased() {
        case "jsonl", "ndjson", "json": return .jsonl
        case "tsv": return .tsv
        case "csv": return .csv
        default: return nil
        }
    }
}
