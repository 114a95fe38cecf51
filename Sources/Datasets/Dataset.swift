import Foundation
import Hashing

/// A labelled text dataset read fully into memory, with what is needed to
/// record where it came from: the file's hash and size.
public struct Dataset: Sendable {
    public let url: URL
    public let examples: [Example]
    /// The fixed map from the options, else one built from the class names in
    /// the data (sorted); nil when there are no class names.
    public let labelMap: LabelMap?
    public let report: DatasetReport
    /// "sha256:<hex>" of exactly the bytes that were parsed.
    public let contentHash: String
    public let byteSize: Int

    /// Reads the file at `url`. Throws `DatasetError` for file and option
    /// problems, and `RowError` for the first bad row (or a bad header) unless
    /// `options.skipBadRows` is set, in which case bad rows are counted in the report.
    public static func load(_ url: URL, options: DatasetReadOptions = DatasetReadOptions()) throws -> Dataset {
        let file = url.isFileURL ? url.relativePath : url.absoluteString
        guard let format = options.format ?? DatasetFormat.infer(from: url) else {
            throw DatasetError(
                path: file,
                reason: "cannot tell the format from the extension '\(url.pathExtension)'; set it to jsonl, tsv or csv")
        }
        let data = try readFile(url, file: file)

        var collector = ExampleCollector(file: file, fixedMap: options.labelMap, skipBadRows: options.skipBadRows)
        try data.withUnsafeBytes { raw in
            let bytes = droppingByteOrderMark(raw.assumingMemoryBound(to: UInt8.self))
            switch format {
            case .jsonl:
                try readJSONLines(bytes, file: file, fields: options.fields) { try collector.add($0) }
            case .tsv, .csv:
                try readDelimited(bytes, format: format, file: file, options: options) { try collector.add($0) }
            }
        }
        return Dataset(
            url: url, examples: collector.examples, labelMap: collector.labelMap, report: collector.report,
            // Hashing the bytes in hand, not re-reading the file, so the hash
            // describes what was parsed even if the file changes meanwhile.
            contentHash: ContentHash.data(data), byteSize: data.count)
    }

    private static func readFile(_ url: URL, file: String) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw DatasetError(path: file, reason: "no such file")
        }
        if isDirectory.boolValue {
            throw DatasetError(path: file, reason: "is a directory, not a dataset file")
        }
        do {
            return try Data(contentsOf: url)
        } catch {
            throw DatasetError(path: file, reason: "cannot read: \(error.localizedDescription)")
        }
    }
}
