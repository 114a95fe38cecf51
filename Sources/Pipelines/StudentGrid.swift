import Distillation
import Foundation
import TeacherCache
import Yams

/// The `grid:` of a pipeline: the cross product of named objective sets, initialisations,
/// depths, widths, hidden mappings and seeds, each combination a student named from its values.
enum StudentGrid {
    /// Grid keys with a list of values, in the order names are built from them.
    static let axes = ["objectives", "init", "layers", "hidden_size", "hidden_mapping", "seeds"]

    static func expand(_ grid: Yams.Node, over base: Yams.Node?, origin: String) throws -> [Pipeline.Student] {
        guard let mapping = grid.mapping else { throw PipelineError.invalid("\(origin): expected a mapping") }
        guard let sets = mapping["objectives"]?.mapping, !sets.isEmpty else {
            throw PipelineError.invalid("\(origin).objectives: name at least one objective set (name → {objective: weight})")
        }
        func values(_ key: String) -> [Yams.Node] { mapping[key]?.sequence.map(Array.init) ?? [] }
        let inits = values("init").isEmpty ? [Yams.Node("lower")] : values("init")
        let layers = values("layers"), widths = values("hidden_size"), mappings = values("hidden_mapping")
        let seeds = values("seeds").isEmpty ? [Yams.Node("0")] : values("seeds")
        let pattern = mapping["name"]?.string
        // Name parts come from the axes with more than one value (objectives always).
        let counts: [(String, Int)] = [("objectives", sets.count), ("init", inits.count), ("layers", layers.count),
                                       ("hidden_size", widths.count), ("hidden_mapping", mappings.count)]
        let varying: [String] = counts.filter { $0.1 > 1 || $0.0 == "objectives" }.map { $0.0 }

        var students: [Pipeline.Student] = []
        for (setName, objectives) in sets {
            for initialization in inits {
                for depth in layers.isEmpty ? [nil] : layers.map(Optional.some) {
                    for width in widths.isEmpty ? [nil] : widths.map(Optional.some) {
                        for hidden in mappings.isEmpty ? [nil] : mappings.map(Optional.some) {
                            for seed in seeds {
                                var student: Yams.Node.Mapping = ["init": initialization]
                                if let depth { student["layers"] = depth }
                                if let width { student["hidden_size"] = width }
                                var entry: Yams.Node.Mapping = ["objectives": objectives, "student": .mapping(student), "seed": seed]
                                if let hidden { entry["hidden_mapping"] = hidden }
                                let parts: [String: String] = [
                                    "objectives": setName.string ?? "objectives", "init": label(initialization),
                                    "layers": depth.map(label) ?? "", "hidden_size": width.map(label) ?? "",
                                    "hidden_mapping": hidden.map(label) ?? "", "seed": label(seed),
                                ]
                                let group = name(pattern.map { strippingSeed($0) }, parts: parts, varying: varying)
                                let full = seeds.count > 1 || pattern?.contains("{seed}") == true ? name(pattern, parts: parts, varying: varying + ["seed"]) : group
                                let named = try StudentList.student(.mapping(entry), over: base, defaultName: full, origin: "\(origin) (\(full))")
                                students.append(Pipeline.Student(named: named, group: group, objectivesLabel: parts["objectives"]!))
                            }
                        }
                    }
                }
            }
        }
        return students
    }

    /// A grid value as a name part: lists joined by '_', anything outside [A-Za-z0-9._-] made '_'.
    static func label(_ node: Yams.Node) -> String {
        let text = node.sequence.map { $0.map(label).joined(separator: "_") } ?? node.string ?? "\(node)"
        return String(text.map { $0.isLetter || $0.isNumber || "._-".contains($0) ? $0 : "_" })
    }

    /// The pattern with `{key}` filled in, or the varying values joined by '-' (seed as s<seed>).
    static func name(_ pattern: String?, parts: [String: String], varying: [String]) -> String {
        if let pattern {
            var text = pattern
            for (key, value) in parts { text = text.replacingOccurrences(of: "{\(key)}", with: value) }
            return text
        }
        return varying.map { $0 == "seed" ? "s" + parts["seed"]! : ($0 == "layers" ? "L" + parts[$0]! : parts[$0]!) }.joined(separator: "-")
    }

    /// A name pattern without its seed placeholder and the literal text tying it to the previous
    /// placeholder ("{objectives}-{init}-s{seed}" → "{objectives}-{init}"): the group's name.
    static func strippingSeed(_ pattern: String) -> String {
        guard let range = pattern.range(of: "{seed}") else { return pattern }
        let head = pattern[..<range.lowerBound]
        guard let close = head.lastIndex(of: "}") else {
            return String(pattern[range.upperBound...].drop { "-_.".contains($0) })
        }
        return String(pattern[...close] + pattern[range.upperBound...])
    }
}
