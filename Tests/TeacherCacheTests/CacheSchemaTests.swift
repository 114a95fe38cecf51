import Foundation
import HDF5
import XCTest
@testable import TeacherCache

/// schemas/cache-v1.schema.json describes exactly what the writer lays out (and `verify` checks).
final class CacheSchemaTests: XCTestCase {
    func testEveryPlannedDatasetIsDescribedInTheSchemaFile() throws {
        let url = CacheFixtures.packageRoot.appendingPathComponent("schemas/cache-v1.schema.json")
        let schema = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        XCTAssertEqual(schema["schema_version"] as? Int, Int(CacheLayout.schemaVersion))
        let entries = (schema["datasets"] as! [[String: Any]]).map { ($0["path"] as! String, Set($0["types"] as! [String])) }
        func describe(_ path: String) -> Set<String>? {
            let generic = path.replacingOccurrences(of: #"layer_[0-9]+"#, with: "layer_<l>", options: .regularExpression)
            if path.hasSuffix("_scale") { return entries.first { $0.0 == "<tensor>_scale" }?.1 }
            return entries.first { $0.0 == generic }?.1
        }
        let teacher = { (head: String, labels: Int) in
            CacheProvenance.Teacher(path: "t", config: "{}", weightsSHA256: "", vocabularySHA256: "", vocabularySize: 30522,
                                    hiddenSize: 384, layers: 6, heads: 12, head: head, classifierLabels: labels)
        }
        var specs: [(CacheSpec, CacheProvenance)] = []
        for (head, labels, names) in [("classifier", 3, ["a", "b", "c"]), ("masked-lm", 0, nil), ("none", 0, nil), ("classifier", 1, nil)] as [(String, Int, [String]?)] {
            for codec in TensorCodec.allCases {
                var spec = CacheSpec()
                spec.hiddenLayers = [0, 3]; spec.attentionLayers = [6]; spec.relationLayers = [6]
                spec.logits = head == "none" ? [] : [.full, .topk, .sampled]
                spec.codecs.hidden = codec; spec.codecs.attention = codec; spec.codecs.relations = codec; spec.codecs.logits = codec
                // Caches from before the texts were stored, with texts, and with pair texts.
                for text in [nil, CacheProvenance.ExampleText(pairs: false), CacheProvenance.ExampleText(pairs: true)] {
                    specs.append((spec, CacheProvenance(teacher: teacher(head, labels), datasets: [], labelNames: names, exampleText: text)))
                }
            }
        }
        var checked = 0, described = Set<String>()
        for (spec, provenance) in specs {
            for planned in CacheLayout.datasets(spec: spec, provenance: provenance) {
                guard let types = describe(planned.path) else { XCTFail("\(planned.path) is not in \(url.lastPathComponent)"); continue }
                XCTAssertTrue(types.contains(planned.type.description), "\(planned.path): \(planned.type) not among \(types)")
                checked += 1
                described.insert(planned.path)
            }
        }
        XCTAssertGreaterThan(checked, 200)
        // And the other way: every concrete path the schema lists is one the writer lays out.
        for (path, _) in entries where !path.contains("<") {
            XCTAssertTrue(described.contains(path), "\(url.lastPathComponent) lists \(path), which no cache holds")
        }
    }
}
