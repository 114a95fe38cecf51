/// One labelled (or unlabelled) input for the teacher.
public struct Example: Sendable, Equatable {
    public var id: String
    public var text: String
    public var textPair: String?
    public var label: Label?

    public init(id: String, text: String, textPair: String? = nil, label: Label? = nil) {
        self.id = id
        self.text = text
        self.textPair = textPair
        self.label = label
    }
}

/// A row's label as written in the file. Names are class names; numbers are
/// class indices or regression targets, which only the task can tell apart.
public enum Label: Sendable, Equatable, Hashable, CustomStringConvertible {
    case name(String)
    case number(Double)

    public var description: String {
        switch self {
        case .name(let name):
            return "'\(name)'"
        case .number(let value):
            // Whole numbers print without ".0" so messages echo the file.
            if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
            return String(value)
        }
    }
}
