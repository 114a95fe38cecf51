/// Layer numbers as written in flags and specs: "0,3,6" (spaces allowed); nil when any item is
/// not a whole number or the list is empty. The one parser of such lists (cache layers, TED filter
/// layers, a student initialised from teacher layers).
public func layerNumbers<S: StringProtocol>(_ text: S) -> [Int]? {
    let numbers = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !numbers.isEmpty, numbers.allSatisfy({ $0 != nil }) else { return nil }
    return numbers.map { $0! }
}

/// Which student layer learns from which teacher layer (../shared/design/OBJECTIVES.md).
/// Hidden states are numbered 0 (embeddings output) … L; attention, Q/K/V 1 … L.
public enum LayerMapping: Equatable, Sendable, Codable, CustomStringConvertible {
    /// TinyBERT: with k = L_T / L_S, student m ↔ teacher k·m.
    case uniform
    /// Only the last student layer ↔ the last teacher layer.
    case last
    /// Explicit (student, teacher) pairs.
    case pairs([Pair])

    public struct Pair: Equatable, Sendable, Codable {
        public var student: Int, teacher: Int
        public init(student: Int, teacher: Int) { self.student = student; self.teacher = teacher }
    }

    /// "uniform", "last" or "s:t,s:t,…".
    public init(parsing text: String) throws {
        switch text.trimmingCharacters(in: .whitespaces) {
        case "uniform": self = .uniform
        case "last": self = .last
        case let list:
            let pairs = try list.split(separator: ",").map { item -> Pair in
                let sides = item.split(separator: ":").map { Int($0.trimmingCharacters(in: .whitespaces)) }
                guard sides.count == 2, let s = sides[0], let t = sides[1] else {
                    throw DistillationError.invalidSpec("layer mapping '\(text)': expected uniform, last or student:teacher pairs like 1:2,2:4")
                }
                return Pair(student: s, teacher: t)
            }
            guard !pairs.isEmpty else { throw DistillationError.invalidSpec("layer mapping is empty") }
            self = .pairs(pairs)
        }
    }

    public var description: String {
        switch self {
        case .uniform: return "uniform"
        case .last: return "last"
        case .pairs(let pairs): return pairs.map { "\($0.student):\($0.teacher)" }.joined(separator: ",")
        }
    }

    public init(from decoder: Decoder) throws { try self.init(parsing: try decoder.singleValueContainer().decode(String.self)) }
    public func encode(to encoder: Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(description) }

    /// Concrete pairs. `includesEmbeddings`: hidden states (layer 0 exists and pairs with 0 under uniform).
    public func resolve(studentLayers: Int, teacherLayers: Int, includesEmbeddings: Bool, what: String) throws -> [Pair] {
        let first = includesEmbeddings ? 0 : 1
        let pairs: [Pair]
        switch self {
        case .uniform:
            guard studentLayers > 0, teacherLayers % studentLayers == 0 else {
                throw DistillationError.invalidSpec("\(what) mapping 'uniform' needs the teacher's \(teacherLayers) layers to be a multiple of the student's \(studentLayers); give explicit pairs instead")
            }
            let k = teacherLayers / studentLayers
            pairs = (first...studentLayers).map { Pair(student: $0, teacher: k * $0) }
        case .last:
            pairs = [Pair(student: studentLayers, teacher: teacherLayers)]
        case .pairs(let list):
            pairs = list
        }
        for p in pairs {
            guard (first...studentLayers).contains(p.student) else {
                throw DistillationError.invalidSpec("\(what) mapping pair \(p.student):\(p.teacher): student layer must be in \(first)…\(studentLayers)")
            }
            guard (first...teacherLayers).contains(p.teacher) else {
                throw DistillationError.invalidSpec("\(what) mapping pair \(p.student):\(p.teacher): teacher layer must be in \(first)…\(teacherLayers)")
            }
        }
        return pairs
    }
}
