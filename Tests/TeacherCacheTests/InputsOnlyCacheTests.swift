import Datasets
import Foundation
import Logging
import Tokenization
import XCTest
@testable import TeacherCache

/// Inputs-only caches (what fine-tuning trains on): token ids, offsets and labels, no teacher
/// tensors, and no teacher forward pass to make them.
final class InputsOnlyCacheTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws { folder = try CacheFixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private var spec: CacheSpec {
        var spec = CacheSpec()
        spec.maxLength = 24
        spec.batchSize = 5
        spec.chunkBytes = 4096
        spec.commitEvery = 7
        return spec
    }

    func testLabelledInputsOnlyCacheRoundTripsAndVerifies() throws {
        let data = try CacheFixtures.dataFile(in: folder, rows: 23)
        let out = folder.appendingPathComponent("inputs.h5")
        XCTAssertTrue(spec.isInputsOnly)
        let summary = try CacheFixtures.build(teacher: "base", data: data, spec: spec, out: out)
        XCTAssertEqual(summary.sequences, 23)
        XCTAssertEqual(summary.teacherSeconds, 0, "no teacher forward pass for an inputs-only cache")

        // Read back: the tokenizer's ids, the labels in class-name order, no tensors.
        let reader = try CacheReader(url: out)
        XCTAssertEqual(reader.labelNames, ["negative", "neutral", "positive"])
        XCTAssertEqual(reader.provenance.teacher.head, "none")
        let tokenizer = try BertTokenizer(modelDirectory: CacheFixtures.teacher("base"))
        let examples = try Dataset.load(data, options: CacheFixtures.readOptions).examples
        var selection = CacheSelection.all(of: reader.spec)
        selection.texts = true
        let sequences = try reader.sequences(0..<23, selection: selection)
        XCTAssertEqual(reader.provenance.exampleText, CacheProvenance.ExampleText(pairs: false))
        var tokens = 0
        for (s, e) in zip(sequences, examples) {
            XCTAssertEqual(s.inputIds, tokenizer.encode(e.text, maxLength: 24).inputIds, e.id)
            XCTAssertEqual(s.exampleId, e.id)
            XCTAssertEqual(s.text, e.text, "the example's text is stored for students with another tokenizer")
            XCTAssertNil(s.textPair)
            guard case .name(let name)? = e.label else { return XCTFail("\(e.id) has no class name") }
            XCTAssertEqual(s.label, Float(["negative", "neutral", "positive"].firstIndex(of: name)!), e.id)
            XCTAssertTrue(s.hidden.isEmpty && s.attention.isEmpty && s.relations.isEmpty && s.fullLogits.isEmpty)
            tokens += s.length
        }
        XCTAssertEqual(reader.tokenCount, tokens)

        // The schema holds: verify passes and inspect lists only the inputs.
        let verification = try CacheVerification.run(out)
        XCTAssertTrue(verification.ok, verification.faults.map(\.description).joined(separator: "\n"))
        let report = try CacheReport.read(out).text()
        XCTAssertTrue(report.contains("/inputs/labels"), report)
        XCTAssertFalse(report.contains("/hidden/"), report)
    }

    /// Numeric class labels read with a fixed label map (how a dev set takes the training set's
    /// classes) are indices into it, even when the file lacks the highest class.
    func testNumericLabelsWithAFixedLabelMap() throws {
        let data = folder.appendingPathComponent("numeric.jsonl")
        try #"{"text": "the cat", "label": 1}\#n{"text": "a dog", "label": 0}\#n{"text": "the mat", "label": 1}\#n"#
            .write(to: data, atomically: true, encoding: .utf8)
        var options = CacheFixtures.readOptions
        options.fields.id = nil
        options.labelMap = LabelMap(names: ["0", "1", "2"])
        let out = folder.appendingPathComponent("numeric.h5")
        _ = try CacheBuilder.build(CacheRequest(teacher: CacheFixtures.teacher("base"), data: [data], readOptions: options, spec: spec, output: out),
                               logger: Logger(label: "test"))
        let reader = try CacheReader(url: out)
        XCTAssertEqual(reader.labelNames, ["0", "1", "2"])
        XCTAssertEqual(try reader.sequences(0..<3).map(\.label), [1, 0, 1])
    }

    func testUnlabelledDataWithNothingToCacheIsRefused() throws {
        let data = try CacheFixtures.dataFile(in: folder, rows: 5)
        var options = CacheFixtures.readOptions
        options.fields = DatasetFields(text: "text", textPair: nil, label: nil, id: "id")
        let out = folder.appendingPathComponent("nothing.h5")
        let request = CacheRequest(teacher: CacheFixtures.teacher("base"), data: [data], readOptions: options, spec: spec, output: out)
        XCTAssertThrowsMessage(try CacheBuilder.build(request, logger: Logger(label: "test")),
                               contains: ["nothing to cache", "--label-field"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path + ".partial"), "refused before anything is written")
    }
}
