import Bert
import Foundation
import Logging
import TeacherCache
import TestSupport
import Tokenization
import Training
import XCTest
@testable import Distillation

/// Every family's tiny models (Tests/Fixtures/families, from scripts/fixtures/family_fixtures.py)
/// exported as Distillery exports students: read back bit for bit, and loaded by transformers with
/// the Auto class its config names, computing what Distillery computes (Float32 both sides, only
/// summation order differs: 1e-5). The batch is padded with the family's pad id, so RoBERTa's
/// position ids are exercised.
final class FamilyExportTests: XCTestCase {
    static let families = packageRoot.appendingPathComponent("Tests/Fixtures/families")
    static let seq = 6

    /// One exported model, Distillery's outputs on the batch, and the batch as transformers reads it.
    struct Exported {
        let name, kind: String
        let model: BertModel
        let forward: BertForward
        let folder, input: URL
        let mask: [Int32]
    }

    func testEveryFamilyAndHeadRoundTripsThroughTransformers() throws {
        let folder = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        var exported: [Exported] = []
        for family in ["roberta", "xlm-roberta", "distilbert"] {
            for kind in ["base", "cls", "mlm"] {
                exported.append(try export("\(family)-\(kind)", kind: kind, family: family, into: folder))
            }
        }
        guard (try? shell("python3 -c 'import torch, transformers'").status) == 0 else {
            return print("transformers check skipped: torch/transformers not installed (make setup-reference)")
        }
        // One Python process for all folders (importing torch costs seconds).
        let result = try runProgram("python3", [packageRoot.appendingPathComponent("scripts/check_student.py").path]
                                    + exported.flatMap { [$0.folder.path, $0.input.path] })
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, exported.count)
        for (line, model) in zip(lines, exported) {
            verify(try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any], model)
        }
    }

    private func export(_ name: String, kind: String, family: String, into folder: URL) throws -> Exported {
        let model = try BertModel.load(directory: Self.families.appendingPathComponent(name))
        let out = folder.appendingPathComponent(name)
        try StudentExport.save(model, to: out, tokenizerFrom: nil)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as! [String: Any]
        XCTAssertEqual(config["model_type"] as? String, family, name)
        let reloaded = try BertModel.load(directory: out)
        XCTAssertEqual(reloaded.config, model.config, name)
        XCTAssertEqual(reloaded.heads, model.heads, name)
        XCTAssertEqual(reloaded.parameters.storage.toArray(), model.parameters.storage.toArray(), name)

        // Two rows, the second padded with the family's pad id.
        let pad = Int32(model.config.padTokenId), seq = Self.seq
        let ids: [Int32] = [0, 17, 40, 23, 9, 2, 0, 31, 2, pad, pad, pad], mask: [Int32] = [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]
        let types = [Int32](repeating: 0, count: ids.count)
        let forward = BertForward(model: reloaded, maxBatch: 2, maxSeq: seq, capture: .logits)
        try forward.run(BertInput(batch: 2, seq: seq, inputIds: ids, tokenTypeIds: types, attentionMask: mask), mlmRows: nil)
        let input = folder.appendingPathComponent("\(name)-input.json")
        let rows = { (values: [Int32]) in [Array(values[0..<seq]), Array(values[seq...])] }
        try JSONSerialization.data(withJSONObject: ["input_ids": rows(ids), "token_type_ids": rows(types), "attention_mask": rows(mask)]).write(to: input)
        return Exported(name: name, kind: kind, model: reloaded, forward: forward, folder: out, input: input, mask: mask)
    }

    private func verify(_ json: [String: Any], _ e: Exported) {
        let architectures = e.model.config.family.architectures, c = e.model.config.hiddenSize, v = e.model.config.vocabSize
        XCTAssertEqual(json["architecture"] as? String,
                       e.kind == "cls" ? architectures.classifier : e.kind == "mlm" ? architectures.maskedLM : architectures.encoder, e.name)
        let hidden = (json["last_hidden_state"] as! [Double]).map(Float.init)
        let ours = e.forward.hiddenState(layer: e.model.config.numHiddenLayers)
        XCTAssertEqual(hidden.count, ours.count, e.name)
        for row in 0..<e.mask.count where e.mask[row] == 1 {
            for i in 0..<c { XCTAssertEqual(hidden[row * c + i], ours[row * c + i], accuracy: 1e-5, "\(e.name) hidden row \(row)") }
        }
        let logits = (json["logits"] as? [Double])?.map(Float.init) ?? []
        if e.kind == "cls" {
            XCTAssertEqual(logits.count, e.forward.classifierLogits.count, e.name)
            for j in 0..<logits.count { XCTAssertEqual(logits[j], e.forward.classifierLogits[j], accuracy: 1e-5, "\(e.name) logits") }
        }
        if e.kind == "mlm" {
            for row in 0..<e.mask.count where e.mask[row] == 1 {
                for j in 0..<v { XCTAssertEqual(logits[row * v + j], e.forward.maskedLMLogits[row * v + j], accuracy: 1e-5, "\(e.name) MLM row \(row)") }
            }
        }
    }
}

/// A student of another family than its teacher, sharing its tokenizer (DistilBERT from a BERT
/// teacher, as DistilBERT itself was made; RoBERTa from BERT): initialised from the teacher's layers
/// with each position at its place, trained from the cache, exported as its own family, and
/// loaded by transformers with the same outputs.
final class StudentFamilyTests: XCTestCase {
    func testStudentsOfAnotherFamilyTrainAndExport() throws {
        let folder = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let caches = try TrainFixtures.caches(in: folder, trainRows: 16, devRows: 8)
        let teacher = try BertModel.load(directory: TrainFixtures.teacher("cls"))
        var checks: [String] = []
        var expected: [(name: String, logits: [Float])] = []
        let input = BertInput(batch: 1, seq: 5, inputIds: [2, 10, 11, 12, 3], tokenTypeIds: [0, 0, 0, 0, 0], attentionMask: [1, 1, 1, 1, 1])
        for family in ["distilbert", "roberta"] {
            var spec = TrainFixtures.spec([.kd: 1, .hiddenMSE: 1, .attentionKL: 1], steps: 3)
            spec.student.family = family
            spec.student.initialization = .teacher(.list([2]))
            let trainer = try StudentTrainer(spec: spec, cache: caches.train, teacherDirectory: TrainFixtures.teacher("cls"),
                                             logger: Logger(label: "test"), name: family)
            let config = trainer.student.config
            XCTAssertEqual(config.family.name, family)
            // Position t of the student starts as the teacher's position t (RoBERTa counts from pad + 1).
            let offset = family == "roberta" ? config.padTokenId + 1 : 0, c = config.hiddenSize
            XCTAssertEqual(Array(UnsafeBufferPointer(start: trainer.student.parameters[trainer.student.layout.positionEmbeddings] + offset * c, count: 3 * c)),
                           Array(UnsafeBufferPointer(start: teacher.parameters[teacher.layout.positionEmbeddings], count: 3 * c)), family)
            XCTAssertEqual(trainer.student.layout.tokenTypeEmbeddings == nil, family == "distilbert")
            let run = folder.appendingPathComponent("run-\(family)")
            let summary = try trainer.train(dev: caches.dev, run: RunFolder(url: run))
            XCTAssertTrue(summary.lossHistory.allSatisfy { $0.values.allSatisfy(\.isFinite) }, family)
            let exported = try BertModel.load(directory: run.appendingPathComponent("final"))
            XCTAssertEqual(exported.config.family.name, family)
            let forward = BertForward(model: exported, maxBatch: 1, maxSeq: 5, capture: .logits)
            try forward.run(input)
            expected.append((family, Array(forward.classifierLogits)))
            let inputFile = folder.appendingPathComponent("input.json")
            try #"{"input_ids": [[2, 10, 11, 12, 3]], "token_type_ids": [[0, 0, 0, 0, 0]], "attention_mask": [[1, 1, 1, 1, 1]]}"#
                .write(to: inputFile, atomically: true, encoding: .utf8)
            checks += [run.appendingPathComponent("final").path, inputFile.path]
        }
        guard (try? shell("python3 -c 'import torch, transformers'").status) == 0 else {
            return print("transformers check skipped: torch/transformers not installed (make setup-reference)")
        }
        let result = try runProgram("python3", [packageRoot.appendingPathComponent("scripts/check_student.py").path] + checks)
        XCTAssertEqual(result.status, 0, result.stderr)
        for (line, (family, logits)) in zip(result.stdout.split(separator: "\n"), expected) {
            let json = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            XCTAssertEqual(json["architecture"] as? String, try ModelFamily.named(family).architectures.classifier)
            let theirs = (json["logits"] as! [Double]).map(Float.init)
            XCTAssertEqual(theirs.count, logits.count)
            for j in 0..<logits.count { XCTAssertEqual(theirs[j], logits[j], accuracy: 1e-5, family) }
        }
    }
}

/// A RoBERTa teacher with a byte-level BPE tokenizer (Tests/Fixtures/tokenizer/bpe, 3,000 tokens,
/// <pad> = 1) through stage one and two: cached with its own tokenizer (vocab.json + merges.txt
/// hashed as its vocabulary), and a RoBERTa student trained from the cache with token-level
/// objectives, exported with the teacher's tokenizer files.
final class RobertaTeacherTests: XCTestCase {
    func testRobertaTeacherCachesAndTeaches() throws {
        let folder = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let bpe = packageRoot.appendingPathComponent("Tests/Fixtures/tokenizer/bpe")
        var config = BertConfig(vocabSize: 3_000, hiddenSize: 32, numHiddenLayers: 2, numAttentionHeads: 4, intermediateSize: 48,
                                maxPositionEmbeddings: 66, typeVocabSize: 1, layerNormEps: 1e-5, padTokenId: 1,
                                labels: ["negative", "neutral", "positive"])
        config.family = .roberta
        let parameters = BertParameters(layout: BertLayout(config: config, heads: BertHeads(pooler: true, classifierLabels: 3)))
        initializeRandomly(parameters, seed: 5)
        let teacher = folder.appendingPathComponent("roberta-teacher")
        try StudentExport.save(BertModel(config: config, parameters: parameters), to: teacher, tokenizerFrom: bpe)
        XCTAssertEqual(try BertModel.load(directory: teacher).config.family, .roberta)

        var spec = TrainFixtures.everythingSpec()
        spec.logits = [.full]
        let caches = try TrainFixtures.caches(teacher: teacher, spec: spec, in: folder, trainRows: 16, devRows: 8)
        let reader = try CacheReader(url: caches.train)
        let tokenizer = try loadTokenizer(modelDirectory: teacher)
        let first = try reader.sequence(0, selection: CacheSelection(texts: true))
        XCTAssertEqual(first.inputIds, tokenizer.encodeIds(try XCTUnwrap(first.text), pair: nil, maxLength: 32).inputIds)
        XCTAssertEqual(first.inputIds.first, 0, "<s>"); XCTAssertEqual(first.inputIds.last, 2, "</s>")
        XCTAssertEqual(reader.provenance.teacher.vocabularySHA256, try VocabularyIdentity.sha256(of: teacher))

        var train = TrainFixtures.spec([.kd: 1, .hiddenMSE: 1, .attentionKL: 1, .relations: 1], steps: 3)
        train.student.initialization = .teacher(.list([2]))
        let trainer = try StudentTrainer(spec: train, cache: caches.train, teacherDirectory: teacher, logger: Logger(label: "test"))
        XCTAssertEqual(trainer.student.config.family, .roberta)
        let run = folder.appendingPathComponent("run")
        let summary = try trainer.train(dev: caches.dev, run: RunFolder(url: run))
        XCTAssertTrue(summary.lossHistory.allSatisfy { $0.values.allSatisfy(\.isFinite) })
        for name in ["vocab.json", "merges.txt", "tokenizer.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent("final/\(name)").path), name)
        }
    }
}
