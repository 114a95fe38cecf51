/// Class names in index order: the label of class i is `names[i]`.
/// Saved with the teacher cache so later stages decode indices the same way.
public struct LabelMap: Sendable, Codable, Equatable {
    public var names: [String]

    public init(names: [String]) {
        self.names = names
    }

    /// The class index of a label: a name's position in `names`, or a number
    /// that is a whole number in 0..<names.count.
    public func index(of label: Label) throws -> Int32 {
        switch label {
        case .name(let name):
            guard let index = names.firstIndex(of: name) else {
                throw LabelMapError(label: label, reason: "unknown label \(label) (known: \(knownNames))")
            }
            return Int32(index)
        case .number(let value):
            guard value == value.rounded(), value >= 0, value < Double(names.count) else {
                throw LabelMapError(
                    label: label,
                    reason: "label \(label) is not a class index (expected 0...\(names.count - 1))")
            }
            return Int32(value)
        }
    }

    // Short enough for one error line even with many classes.
    private var knownNames: String {
        let shown = names.prefix(10).map { "'\($0)'" }.joined(separator: ", ")
        return names.count > 10 ? shown + ", … (\(names.count) in all)" : shown
    }
}

/// A label that the label map cannot turn into a class index.
public struct LabelMapError: Error, CustomStringConvertible, Equatable {
    public let label: Label
    public let reason: String

    public var description: String { reason }
}
