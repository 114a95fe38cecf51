import Foundation
import TeacherCache
import Yams

/// Several students for one `distillery train`: a file with a list, or several spec files.
///
///     train:                  # optional: defaults for every student (any train-spec key)
///       epochs: 1
///     students:
///       - name: kd-lower      # the run folder's name; any train-spec key below overrides
///         objectives: {kd: 1}
///         student: {init: lower}
///
/// A student's keys are laid over the defaults key by key (the `student:` block too);
/// `objectives` replaces the defaults' objectives as a whole.
public struct NamedStudent: Sendable {
    public var name: String
    public var spec: TrainSpec
    public init(name: String, spec: TrainSpec) { self.name = name; self.spec = spec }
}

public enum StudentList {
    /// The students of a list file, each over `base` (a train block, e.g. from `--spec`).
    public static func load(list url: URL, base: Yams.Node?) throws -> [NamedStudent] {
        let root = try loadSpecNode(yaml: url, key: nil, unreadable: DistillationError.io, invalid: DistillationError.invalidSpec)
        guard let mapping = root.mapping, let list = mapping["students"]?.sequence else {
            throw DistillationError.invalidSpec("\(url.path): expected a `students:` list (and optionally `train:` defaults)")
        }
        for key in mapping.keys.compactMap(\.string) where !["students", "train"].contains(key) {
            throw DistillationError.invalidSpec("\(url.path): unknown key '\(key)' (known: train, students)")
        }
        let defaults = merge(base, mapping["train"])
        var students: [NamedStudent] = []
        for (i, item) in list.enumerated() {
            guard item.mapping != nil else { throw DistillationError.invalidSpec("\(url.path): students[\(i)] is not a mapping") }
            students.append(try student(item, over: defaults, defaultName: "student-\(i + 1)", origin: "\(url.path): students[\(i)]"))
        }
        return try checked(students, origin: url.path)
    }

    /// One student per spec file (`--student FILE`, repeatable); the name is the file's `name:`
    /// key or its stem.
    public static func load(files: [URL], base: Yams.Node?) throws -> [NamedStudent] {
        let students = try files.map { url in
            let node = try loadSpecNode(yaml: url, key: "train", unreadable: DistillationError.io, invalid: DistillationError.invalidSpec)
            return try student(node, over: base, defaultName: url.deletingPathExtension().lastPathComponent, origin: url.path)
        }
        return try checked(students, origin: files.map(\.path).joined(separator: ", "))
    }

    /// One student from its YAML entry laid over `base`; an entry's `name:` wins over `defaultName`.
    public static func student(_ node: Yams.Node, over base: Yams.Node?, defaultName: String, origin: String) throws -> NamedStudent {
        var entry = node.mapping ?? [:]
        var name = defaultName
        if let given = entry["name"] {
            guard let text = given.string, !text.isEmpty else { throw DistillationError.invalidSpec("\(origin).name: expected a string") }
            name = text
            entry["name"] = nil
        }
        let merged = merge(base, .mapping(entry)) ?? .mapping([:])
        let spec = try decodeSpecNode(TrainSpec.self, node: merged, origin: "\(origin) (\(name))", invalid: DistillationError.invalidSpec)
        do { try spec.validate() } catch let error as DistillationError { throw DistillationError.invalidSpec("\(origin) (\(name)): \(error)") }
        return NamedStudent(name: name, spec: spec)
    }

    /// Names become folder names: unique, and made of letters, digits, '.', '_' and '-'.
    public static func checked(_ students: [NamedStudent], origin: String) throws -> [NamedStudent] {
        guard !students.isEmpty else { throw DistillationError.invalidSpec("\(origin): no students") }
        var seen = Set<String>()
        for s in students {
            if let problem = FolderName.problem(s.name) {
                throw DistillationError.invalidSpec("\(origin): student name \(s.name.prefix(120).debugDescription) \(problem) (it names the run folder)")
            }
            guard seen.insert(s.name).inserted else { throw DistillationError.invalidSpec("\(origin): two students are named '\(s.name)'") }
        }
        return students
    }

    /// `over` laid on `base` key by key; nested mappings merge, except `objectives`, which replaces.
    public static func merge(_ base: Yams.Node?, _ over: Yams.Node?) -> Yams.Node? {
        guard let over else { return base }
        guard let b = base?.mapping, let o = over.mapping else { return over }
        var result = b
        for (key, value) in o {
            if key.string != "objectives", let existing = result[key], existing.mapping != nil, value.mapping != nil {
                result[key] = merge(existing, value)
            } else {
                result[key] = value
            }
        }
        return .mapping(result)
    }
}
