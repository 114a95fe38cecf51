/// Which fields of a row hold the text, second text, label and id.
///
/// For JSON Lines and for TSV/CSV with a header these are field (column) names.
/// For TSV/CSV read with `hasHeader: false` they are 0-based column indices
/// written as strings: `DatasetFields(text: "1", label: "0")`.
/// A field left nil is not read; a field that is set must be present in every row.
public struct DatasetFields: Sendable, Codable, Equatable {
    public var text = "text"
    public var textPair: String? = nil
    public var label: String? = nil
    /// Without an id field, a row's id is the line number (1-based) where it starts.
    public var id: String? = nil

    public init(text: String = "text", textPair: String? = nil, label: String? = nil, id: String? = nil) {
        self.text = text
        self.textPair = textPair
        self.label = label
        self.id = id
    }

    // Written by hand so a saved configuration may leave out "text" and get the default.
    enum CodingKeys: String, CodingKey { case text, textPair, label, id }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        text = try container.decodeIfPresent(String.self, forKey: .text) ?? "text"
        textPair = try container.decodeIfPresent(String.self, forKey: .textPair)
        label = try container.decodeIfPresent(String.self, forKey: .label)
        id = try container.decodeIfPresent(String.self, forKey: .id)
    }
}
