import Datasets
import Foundation
import Logging
import Objectives
import SafeTensors
import TeacherCache
import TestSupport
import XCTest
@testable import Distillation

/// TED from the cache: stage one (teacher filters and their heads) and stage two (`ted` objective), on caches of
/// the tiny fixture teacher (2 layers, hidden 32).
final class TedTrainingTests: XCTestCase {
    static var folder: URL!
    static var caches: (train: URL, dev: URL)!
    let logger = Logger(label: "test")

    override class func setUp() {
        super.setUp()
        folder = try! makeTemporaryDirectory("distillery-ted-tests")
        caches = (try! cache("train", rows: 160, offset: 0), try! cache("dev", rows: 80, offset: 5000))
    }

    override class func tearDown() {
        try? FileManager.default.removeItem(at: folder)
        super.tearDown()
    }

    /// Sentences whose label is learnable from the words: positive ones draw their content words from one set,
    /// negative ones from another, both padded with shared filler words; lengths 3…10.
    static func writeSentiment(_ name: String, rows: Int, offset: Int, labelled: Bool = true) throws -> URL {
        let positive = ["good", "great", "film", "movie"], negative = ["bad", "not", "dog", "mat"], filler = ["the", "a", "was", "is", "it", "and"]
        var random = SeededRandom(seed: UInt64(offset) + 1)
        let lines = (0..<rows).map { r -> String in
            let label = Int(random.next() % 2)
            let words = (0..<(3 + r % 8)).map { j -> String in
                let set = j % 2 == 0 ? (label == 1 ? positive : negative) : filler
                return set[Int(random.next() % UInt64(set.count))]
            }
            let text = words.joined(separator: " ")
            return labelled ? #"{"id": "s\#(r + offset)", "text": "\#(text)", "label": "\#(label == 1 ? "positive" : "negative")"}"#
                : #"{"id": "s\#(r + offset)", "text": "\#(text)"}"#
        }
        let url = folder.appendingPathComponent("\(name).jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    static func cache(_ name: String, rows: Int, offset: Int, hidden: [Int] = [0, 1, 2], labelled: Bool = true) throws -> URL {
        let data = try writeSentiment(name, rows: rows, offset: offset, labelled: labelled)
        var spec = CacheSpec()
        spec.maxLength = 16; spec.hiddenLayers = hidden; spec.logits = [.full]
        var options = DatasetReadOptions()
        options.fields = DatasetFields(text: "text", textPair: nil, label: labelled ? "label" : nil, id: "id")
        let out = folder.appendingPathComponent("\(name).h5")
        try CacheBuilder.build(CacheRequest(teacher: TrainFixtures.teacher("cls"), data: [data], readOptions: options, spec: spec, output: out),
                               logger: Logger(label: "test"))
        return out
    }

    static func filterSpec(_ kind: TedFilterKind, layers: [Int]? = nil, epochs: Int = 16) -> TeacherFilterSpec {
        var spec = TeacherFilterSpec()
        spec.kind = kind; spec.layers = layers; spec.epochs = epochs; spec.batchSize = 16; spec.learningRate = 3e-3
        return spec
    }

    /// Stage one learns the task from the frozen teacher's hidden states: every filter's head beats always
    /// guessing the majority class on held-out data by at least 0.2 (the words decide the label, so a probe of the
    /// [CLS] state can learn it; chance is about 0.5).
    func testTeacherFiltersLearnTheTask() throws {
        for kind in TedFilterKind.allCases {
            let training = try TeacherFilterTraining(spec: Self.filterSpec(kind), cache: Self.caches.train, logger: logger)
            XCTAssertEqual(training.layers, [1, 2], "default: every cached hidden layer ≥ 1")
            XCTAssertEqual(training.width, 32, "default width: the teacher's")
            let summary = try training.train(dev: Self.caches.dev)
            XCTAssertEqual(summary.steps, 16 * 10)
            XCTAssertLessThan(summary.lossHistory.suffix(6).reduce(0, +), summary.lossHistory.prefix(6).reduce(0, +), "\(kind): \(summary.lossHistory)")
            let majority = try XCTUnwrap(summary.majorityRate)
            for (layer, accuracy) in summary.devAccuracy.sorted(by: { $0.key < $1.key }) {
                print("TED stage one, \(kind) filter on teacher layer \(layer): dev accuracy \(accuracy) on \(summary.devExamples) examples, majority class \(majority)")
                XCTAssertGreaterThanOrEqual(accuracy, majority + 0.2, "\(kind) layer \(layer)")
            }
            // The file holds what was trained, and reads back exactly.
            let url = Self.folder.appendingPathComponent("filters-\(kind).safetensors")
            try training.save(to: url, summary: summary)
            let file = try TedFilterFile.load(url)
            XCTAssertEqual(file, training.file)
            XCTAssertEqual(file.labelNames, ["negative", "positive"])
            let tensors = try SafeTensorsFile(url: url)
            XCTAssertEqual(tensors.tensors["ted.teacher_layer_2.filter.0.weight"]?.shape, [32, 32])
            XCTAssertEqual(tensors.tensors["ted.teacher_layer_2.head.classifier.weight"]?.shape, [2, 32])
            XCTAssertEqual(tensors.tensors["ted.teacher_layer_1.filter.2.weight"] != nil, kind == .mlp)
            XCTAssertEqual(tensors.metadata["ted.layers"], "1,2")
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: TeacherFilterTraining.summaryURL(for: url))) as! [String: Any]
            XCTAssertNotNil((json["dev"] as? [String: Any])?["accuracy"])
        }
    }

    /// Stage two: a narrower student (width 16, its filters 16 → 32) trains with ce + α_kl·kd + α_mse·ted;
    /// the weighted loss and the ted loss fall, every loss stays finite, and its filters are saved next to the
    /// projections. (The tiny teacher's logits are nearly uniform, so kd alone is too flat and noisy to assert on.)
    func testStudentTrainsWithTED() throws {
        let filters = Self.folder.appendingPathComponent("stage2-filters.safetensors")
        let stageOne = try TeacherFilterTraining(spec: Self.filterSpec(.mlp, epochs: 4), cache: Self.caches.train, logger: logger)
        try stageOne.save(to: filters, summary: try stageOne.train(dev: nil))

        var spec = TrainFixtures.spec([.ce: 1, .kd: 0.5, .ted: 1], steps: 18)
        spec.tedFilters = filters.path
        spec.student.hiddenSize = 16; spec.student.heads = 2; spec.student.intermediateSize = 32
        spec.student.initialization = .random; spec.student.dropout = 0
        spec.learningRate = 3e-3
        let trainer = try StudentTrainer(spec: spec, cache: Self.caches.train, teacherDirectory: TrainFixtures.teacher("cls"), logger: logger)
        XCTAssertEqual(trainer.plan.tedPairs, [LayerMapping.Pair(student: 1, teacher: 2)], "uniform: 1-layer student ↔ the 2-layer teacher's layer 2")
        XCTAssertTrue(trainer.plan.selection.hiddenLayers.contains(2))
        let run = Self.folder.appendingPathComponent("ted-run")
        let summary = try trainer.train(dev: Self.caches.dev, run: RunFolder(url: run))
        let weights: [ObjectiveKind: Double] = [.ce: 1, .kd: 0.5, .ted: 1]
        let totals = summary.lossHistory.map { step in weights.reduce(0.0) { $0 + $1.value * step[$1.key]! } }
        for (name, losses) in [("total", totals), ("ted", summary.lossHistory.map { $0[.ted]! })] {
            XCTAssertTrue(losses.allSatisfy(\.isFinite), "\(name): \(losses)")
            XCTAssertLessThan(losses.suffix(4).reduce(0, +), losses.prefix(4).reduce(0, +), "\(name) should fall: \(losses)")
        }
        print("TED stage two: weighted loss \(totals.first!) → \(totals.last!), ted loss \(summary.lossHistory.first![.ted]!) → \(summary.lossHistory.last![.ted]!), dev \(summary.evaluations.last?.summaryLine ?? "-")")
        XCTAssertNotNil(summary.evaluations.last?.losses[.ted], "the dev evaluation reports the ted loss")
        let saved = try SafeTensorsFile(url: run.appendingPathComponent("final/projections.safetensors"))
        XCTAssertEqual(saved.tensors["ted.student_layer_1.teacher_layer_2.filter.0.weight"]?.shape, [32, 16])
        XCTAssertEqual(saved.tensors["ted.student_layer_1.teacher_layer_2.filter.2.weight"]?.shape, [32, 32])
    }

    /// What is missing is named, with the flag or setting that supplies it.
    func testErrorsNameTheProblem() throws {
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "no error" } catch { return "\(error)" }
        }
        // Stage one: a layer the cache lacks; an unlabelled cache.
        let onlyLayer1 = try Self.cache("only-layer-1", rows: 8, offset: 900, hidden: [1])
        let missing = message { _ = try TeacherFilterTraining(spec: Self.filterSpec(.linear, layers: [2]), cache: onlyLayer1, logger: logger) }
        XCTAssertTrue(missing.contains("--hidden 1,2"), missing)
        let unlabelled = try Self.cache("unlabelled", rows: 8, offset: 950, labelled: false)
        let noLabels = message { _ = try TeacherFilterTraining(spec: Self.filterSpec(.linear), cache: unlabelled, logger: logger) }
        XCTAssertTrue(noLabels.contains("--label-field"), noLabels)

        // Stage two: filters for layer 1 only, while uniform maps the student to teacher layer 2.
        let layer1 = Self.folder.appendingPathComponent("layer1.safetensors")
        let stageOne = try TeacherFilterTraining(spec: Self.filterSpec(.linear, layers: [1], epochs: 1), cache: Self.caches.train, logger: logger)
        try stageOne.save(to: layer1, summary: try stageOne.train(dev: nil))
        var spec = TrainFixtures.spec([.ce: 1, .ted: 1])
        spec.tedFilters = layer1.path
        let unfiltered = message { _ = try StudentTrainer(spec: spec, cache: Self.caches.train, teacherDirectory: TrainFixtures.teacher("cls"), logger: logger) }
        XCTAssertTrue(unfiltered.contains("none for 2") && unfiltered.contains("ted-filters --layers 1,2"), unfiltered)
        // An explicit mapping onto the filtered layer works.
        spec.tedMapping = try LayerMapping(parsing: "1:1")
        XCTAssertEqual(try StudentTrainer(spec: spec, cache: Self.caches.train, teacherDirectory: TrainFixtures.teacher("cls"), logger: logger).plan.tedPairs,
                       [LayerMapping.Pair(student: 1, teacher: 1)])
        // The cache must hold the filtered teacher layers' hidden states.
        spec.tedMapping = .uniform
        spec.tedFilters = Self.folder.appendingPathComponent("stage2-filters.safetensors").path
        if !FileManager.default.fileExists(atPath: spec.tedFilters!) {
            let both = try TeacherFilterTraining(spec: Self.filterSpec(.linear, epochs: 1), cache: Self.caches.train, logger: logger)
            try both.save(to: URL(fileURLWithPath: spec.tedFilters!), summary: try both.train(dev: nil))
        }
        let noHidden = message { _ = try StudentTrainer(spec: spec, cache: onlyLayer1, teacherDirectory: TrainFixtures.teacher("cls"), logger: logger) }
        XCTAssertTrue(noHidden.contains("--hidden 1,2"), noHidden)
        // And the objective needs its file.
        spec.tedFilters = nil
        XCTAssertTrue(message { try spec.validate() }.contains("ted_filters"))
        // A file that is not a filter file says so.
        spec.tedFilters = TrainFixtures.teacher("cls").appendingPathComponent("model.safetensors").path
        let notFilters = message { _ = try StudentTrainer(spec: spec, cache: Self.caches.train, teacherDirectory: TrainFixtures.teacher("cls"), logger: logger) }
        XCTAssertTrue(notFilters.contains("not a TED filter file"), notFilters)
    }
}
