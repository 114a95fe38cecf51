import Foundation
import XCTest
@testable import TeacherCache

/// The YAML form of the cache spec: snake_case keys, all optional, top level or under `cache:`.
final class CacheSpecTests: XCTestCase {
    private func yaml(_ text: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("spec-\(UUID().uuidString).yaml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func testShippedDemoSpecLoads() throws {
        let spec = try CacheSpec.load(yaml: CacheFixtures.packageRoot.appendingPathComponent("pipelines/demo-cache.yaml"))
        XCTAssertEqual(spec.hiddenLayers, [0, 2, 4, 6])
        XCTAssertEqual(spec.attentionLayers, [6])
        XCTAssertEqual(spec.relationLayers, [6])
        XCTAssertEqual(spec.codecs.hidden, .fp16)
        XCTAssertEqual(spec.maxLength, 128)
    }

    func testTopLevelKeysAndDefaults() throws {
        let spec = try CacheSpec.load(yaml: try yaml("""
        logits: [topk, sampled]
        top_k: 8
        sampled_temperature: 2.0
        masking: {probability: 0.2}
        codecs: {logits: fp16}
        """))
        XCTAssertEqual(spec.logits, [.topk, .sampled])
        XCTAssertEqual(spec.topK, 8)
        XCTAssertEqual(spec.sampledTemperature, 2)
        XCTAssertEqual(spec.masking.probability, 0.2)
        XCTAssertEqual(spec.masking.maskFraction, 0.8, "unnamed keys keep their defaults")
        XCTAssertEqual(spec.codecs.logits, .fp16)
        XCTAssertEqual(spec.codecs.hidden, .fp16)
        XCTAssertEqual(spec.batchSize, CacheSpec().batchSize)
    }

    func testErrorsNameTheFileAndKey() throws {
        let unknown = try yaml("cache:\n  hiden_layers: [1]\n")
        XCTAssertThrowsMessage(try CacheSpec.load(yaml: unknown), contains: [unknown.path, "unknown key 'hiden_layers'"])
        let wrongType = try yaml("max_length: long\n")
        XCTAssertThrowsMessage(try CacheSpec.load(yaml: wrongType), contains: [wrongType.path, "max_length"])
        let badCodec = try yaml("codecs: {hidden: fp8}\n")
        XCTAssertThrowsMessage(try CacheSpec.load(yaml: badCodec), contains: [badCodec.path, "hidden"])
    }

    func testSpecSurvivesTheJSONStoredInCaches() throws {
        var spec = CacheSpec()
        spec.hiddenLayers = [1]; spec.logits = [.full]; spec.codecs.attention = .int8; spec.masking.seed = 9
        let json = CacheProvenance.json(spec)
        XCTAssertTrue(json.contains("\"hidden_layers\":[1]"), json)
        XCTAssertEqual(try CacheProvenance.decode(CacheSpec.self, from: json, what: "spec"), spec)
    }
}
