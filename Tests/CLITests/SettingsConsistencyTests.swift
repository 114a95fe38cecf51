import Distillation
import Foundation
import TeacherCache
import XCTest

/// A train or cache setting is declared in Swift (TrainSpec, StudentSpec, CacheSpec: key, type,
/// default), read from YAML and the pipeline schema (held to the same keys by
/// SchemaValidationTests.PipelineSchemaTests.testKeysAreTheSwiftSpecsKeys), and offered as a flag
/// whose help states the default. This test holds the flags to the declarations: every setting has
/// its flag, and every "(default X)" in the help is the Swift default — so a default changed in one
/// place and not the other fails here.
final class SettingsConsistencyTests: XCTestCase {
    static let defaultPattern = try! NSRegularExpression(pattern: #"(?:\(|; )default ([^:)][^);,]*)"#)

    /// Flags that are not the kebab-case of their key.
    static let trainFlags = ["init": "initialization", "objectives": "objective", "scale_by_temperature_squared": "temperature-scaling"]

    func testTrainFlagsAndTheirDefaultsAreTheSpecs() throws {
        let flags = try helpDefaults(["train"])
        var spec = TrainSpec()
        spec.tedFilters = "x"  // encoded only when set
        let encoded = try flatten(spec)
        for (key, value) in encoded {
            let leaf = String(key.split(separator: ".").last!)
            let flag = Self.trainFlags[leaf] ?? leaf.replacingOccurrences(of: "_", with: "-")
            XCTAssertNotNil(flags[flag], "train setting \(key) has no --\(flag)")
            guard let stated = flags[flag] ?? nil else { continue }
            XCTAssertTrue(same(stated, value), "--\(flag) says (default \(stated)), TrainSpec says \(value)")
        }
    }

    func testCacheFlagsAndTheirDefaultsAreTheSpecs() throws {
        let flags = try helpDefaults(["cache", "build"])
        let aliases = ["hidden_layers": "hidden", "attention_layers": "attention", "relation_layers": "relations", "compression_level": "level",
                       "top_k": "top-k", "codecs.hidden": "hidden-codec", "codecs.attention": "attention-codec", "codecs.relations": "relations-codec",
                       "codecs.logits": "logits-codec", "masking.probability": "mask-probability", "mask_views": "mask-views"]
        for (key, value) in try flatten(CacheSpec()) {
            // Masked-LM masking details beyond the probability are YAML-only by design.
            if key.hasPrefix("masking.") && key != "masking.probability" { continue }
            let flag = aliases[key] ?? key.replacingOccurrences(of: "_", with: "-")
            XCTAssertNotNil(flags[flag], "cache setting \(key) has no --\(flag)")
            guard let stated = flags[flag] ?? nil else { continue }
            XCTAssertTrue(same(stated, value), "--\(flag) says (default \(stated)), CacheSpec says \(value)")
        }
    }

    // MARK: helpers

    /// Each long option of a command and the default its help states, if any ("(default X)").
    private func helpDefaults(_ command: [String]) throws -> [String: String?] {
        let result = try CLI.run(command + ["--experimental-dump-help"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let arguments = try XCTUnwrap((root["command"] as? [String: Any])?["arguments"] as? [[String: Any]])
        var flags: [String: String?] = [:]
        for argument in arguments {
            guard let name = (argument["names"] as? [[String: Any]])?.first(where: { $0["kind"] as? String == "long" })?["name"] as? String else { continue }
            let abstract = argument["abstract"] as? String ?? ""
            // "(default X)" or "…; default X)"; "(default: the teacher's)" states no value.
            let match = Self.defaultPattern.firstMatch(in: abstract, range: NSRange(abstract.startIndex..., in: abstract))
            let stated = match.flatMap { Range($0.range(at: 1), in: abstract) }.map { String(abstract[$0]) }
            flags[name] = stated
        }
        return flags
    }

    /// Leaf settings of an encoded spec as "key" or "block.key" → value.
    private func flatten<T: Encodable>(_ value: T) throws -> [String: Any] {
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as? [String: Any])
        var out: [String: Any] = [:]
        for (key, value) in object {
            if let nested = value as? [String: Any], key == "student" || key == "codecs" || key == "masking" {
                for (inner, v) in nested { out[key == "student" ? inner : "\(key).\(inner)"] = v }
            } else {
                out[key] = value
            }
        }
        return out
    }

    /// Whether a help text's default states `value`: numbers within float precision, booleans as
    /// on/off, lists as comma-separated, objective weights as name=weight.
    private func same(_ stated: String, _ value: Any) -> Bool {
        let text = stated.trimmingCharacters(in: .whitespaces)
        if text == "on" || text == "off" { return (value as? Bool) == (text == "on") }
        if let number = value as? NSNumber, let parsed = Double(text) { return abs(number.doubleValue - parsed) <= 1e-6 * max(1, abs(parsed)) }
        if let number = value as? NSNumber {
            // "1 MiB" style sizes.
            let parts = text.split(separator: " ")
            if parts.count == 2, let n = Double(parts[0]), parts[1] == "MiB" { return number.doubleValue == n * 1_048_576 }
            return false
        }
        if let string = value as? String { return text == string }
        if let list = value as? [Any] { return text == list.map { "\($0)" }.joined(separator: ",") }
        if let weights = value as? [String: Any] { return text == weights.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: ",") }
        return false
    }
}
