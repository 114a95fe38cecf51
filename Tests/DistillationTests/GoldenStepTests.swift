import Foundation
import XCTest
@testable import Bert
@testable import Distillation
import Kernels
import SafeTensors
@testable import TeacherCache
import TestSupport
import Training

/// One step of a combined objective (CE + KD + hidden MSE with projections + attention KL +
/// MiniLM v2 relations) against PyTorch: every loss, every parameter gradient, the gradient
/// norm and the parameters after one clipped AdamW step, for a student of each family that
/// trains differently (BERT; RoBERTa: positions after the padding id 1, one token type, the
/// classifier.dense → tanh → out_proj head; DistilBERT: no token types, other names,
/// pre_classifier → ReLU → classifier) against the same tiny BERT teacher's targets. Fixtures
/// from scripts/fixtures/train_fixtures.py --family bert|roberta|distilbert (PyTorch 2.13,
/// transformers 5.23 for BERT, 5.25 for the others; float32), one folder each.
///
/// Tolerances: the script measured float32 against float64 for the same computation: losses
/// agree to 3.6e-7 relative and gradients to 6.2e-7 of each tensor's largest magnitude (RoBERTa:
/// 2.0e-7 and 4.9e-7, DistilBERT: 1.8e-7 and 7.3e-7; objective.json of each fixture), so two
/// float32 implementations that only sum in different orders differ by a few times that. We
/// allow 2e-5 relative for losses and 1e-4 of each tensor's largest magnitude for gradients
/// (well above the noise, far below any real mistake: a wrong mask or missing factor moves
/// values by percents). Updated parameters: 1e-5 absolute, except where the true gradient is
/// zero (the first layer's key bias): Adam turns float32 noise g into a step lr·g/(|g|+ε), so
/// those may differ by up to lr.
final class GoldenStepTests: XCTestCase {
    func testBertStepMatchesPyTorch() throws { try checkStep(fixture: "combined", family: .bert) }
    func testRobertaStepMatchesPyTorch() throws { try checkStep(fixture: "roberta", family: .roberta) }
    func testDistilBertStepMatchesPyTorch() throws { try checkStep(fixture: "distilbert", family: .distilBert) }

    /// The step of Tests/Fixtures/train/<fixture>, whose student is of `family`.
    func checkStep(fixture: String, family: ModelFamily) throws {
        let folder = packageRoot.appendingPathComponent("Tests/Fixtures/train/\(fixture)")
        let batchFile = try SafeTensorsFile(url: folder.appendingPathComponent("batch.safetensors"))
        let expected = try SafeTensorsFile(url: folder.appendingPathComponent("expected.safetensors"))
        let student = try BertModel.load(directory: folder.appendingPathComponent("student"))
        XCTAssertEqual(student.config.family.name, family.name)
        var spec = TrainSpec()
        spec.objectives = [.ce: 0.5, .kd: 0.5, .hiddenMSE: 1, .attentionKL: 1, .relations: 1]
        spec.temperature = 2
        spec.relationHeads = 8
        spec.hiddenMapping = .uniform
        spec.attentionMapping = try LayerMapping(parsing: "1:2,2:4")
        spec.relationMapping = try LayerMapping(parsing: "2:4")
        spec.student.dropout = 0
        spec.learningRate = 1e-3
        spec.batchSize = 3
        let teacher = CacheProvenance.Teacher(path: "fixture", config: "{}", weightsSHA256: "", vocabularySHA256: "", vocabularySize: 99,
                                              hiddenSize: 48, layers: 4, heads: 4, head: "none", classifierLabels: 0)
        var cacheSpec = CacheSpec()
        cacheSpec.hiddenLayers = [0, 2, 4]; cacheSpec.attentionLayers = [2, 4]; cacheSpec.relationLayers = [4]; cacheSpec.logits = [.full]
        let plan = try TrainingPlan(spec: spec, student: student.config, teacher: teacher, cacheSpec: cacheSpec,
                                    isMaskedLM: false, labelNames: ["a", "b", "c"])
        XCTAssertEqual(plan.heads, student.heads)
        XCTAssertEqual(plan.hiddenPairs.map { [$0.student, $0.teacher] }, [[0, 0], [1, 2], [2, 4]])

        // The batch as cached sequences (unpadded), as the reader would return them.
        let ids = try batchFile.int64s("input_ids"), types = try batchFile.int64s("token_type_ids")
        let mask = try batchFile.int64s("attention_mask"), labels = try batchFile.int64s("labels")
        let logits = try batchFile.floats("teacher_logits")
        let (b, t, ct, h) = (3, 8, 48, 4)
        var sequences: [CachedSequence] = []
        for row in 0..<b {
            let n = (0..<t).filter { mask[row * t + $0] != 0 }.count
            var s = CachedSequence(index: row, exampleIndex: row, exampleId: "\(row)",
                                   inputIds: (0..<n).map { Int32(ids[row * t + $0]) }, tokenTypeIds: (0..<n).map { Int32(types[row * t + $0]) },
                                   label: Float(labels[row]))
            for l in [0, 2, 4] {
                let all = try batchFile.floats("teacher_hidden_\(l)")
                s.hidden[l] = Array(all[(row * t * ct)..<(row * t * ct + n * ct)])
            }
            for l in [2, 4] {
                let all = try batchFile.floats("teacher_attention_\(l)")
                var values: [Float] = []
                for head in 0..<h { for i in 0..<n { let start = ((row * h + head) * t + i) * t; values += all[start..<(start + n)] } }
                s.attention[l] = values
            }
            let q = try batchFile.floats("teacher_query_4"), k = try batchFile.floats("teacher_key_4"), v = try batchFile.floats("teacher_value_4")
            var fused: [Float] = []
            for i in 0..<n { for x in [q, k, v] { fused += x[((row * t + i) * ct)..<((row * t + i) * ct + ct)] } }
            s.relations[4] = fused
            s.fullLogits = Array(logits[(row * 3)..<(row * 3 + 3)])
            sequences.append(s)
        }
        let targets = TargetBatch(plan: plan, maxBatch: b, maxSeq: t, logitWidth: 3, topK: 0)
        try targets.fill(sequences)
        XCTAssertEqual(targets.seq, t)

        let objectives = DistillationObjectives(plan: plan, maxBatch: b, maxSeq: t, seed: 0)
        for i in 0..<3 {
            let w = try batchFile.floats("projection_\(i)_weight"), bias = try batchFile.floats("projection_\(i)_bias")
            objectives.projectionWeights[i]!.pointer.update(from: w, count: w.count)
            objectives.projectionBiases[i]!.pointer.update(from: bias, count: bias.count)
        }

        // Forward, objectives, backward.
        let graph = BertTrainingGraph(layout: student.layout, maxBatch: b, maxSeq: t, dropout: 0)
        let gradients = BertParameters(layout: student.layout)
        graph.forward(student.parameters, targets.input, mlmRows: nil, training: true, seed: 0)
        let losses = objectives.compute(graph: graph, targets: targets, gradients: true)
        graph.backward(student.parameters, gradients)

        func scalar(_ name: String) throws -> Double {
            let info = try XCTUnwrap(expected.tensors[name])
            XCTAssertEqual(info.dtype, .f64)
            return try expected.floats(name).first.map(Double.init) ?? .nan
        }
        for (kind, name) in [(ObjectiveKind.ce, "loss_ce"), (.kd, "loss_kd"), (.hiddenMSE, "loss_hidden"), (.attentionKL, "loss_attention"), (.relations, "loss_relations")] {
            let want = try scalar(name), got = losses.values[kind] ?? .nan
            XCTAssertEqual(got, want, accuracy: 2e-5 * max(1, abs(want)), "\(name)")
            print(String(format: "golden %@ %@: Distillery %.8f, PyTorch %.8f", fixture, name, got, want))
        }
        XCTAssertEqual(losses.total, try scalar("loss_total"), accuracy: 2e-5 * max(1, abs(try scalar("loss_total"))))

        // Every parameter gradient, under its Hugging Face name.
        var worst = 0.0
        func compare(_ name: String, _ got: [Float], _ want: [Float], tolerance: Double, what: String) {
            XCTAssertEqual(got.count, want.count, name)
            let scale = Double(want.map { abs($0) }.max() ?? 0)
            let diff = zip(got, want).map { Double(abs($0 - $1)) }.max() ?? 0
            if scale >= 1e-3 { worst = max(worst, diff / scale) }
            XCTAssertLessThanOrEqual(diff, tolerance * max(scale, 1e-3), "\(what) \(name): max |Δ| \(diff) against max |x| \(scale)")
        }
        func hfTensors(_ params: BertParameters) -> [String: [Float]] {
            var out: [String: [Float]] = [:]
            for tensor in params.layout.tensors {
                for part in CheckpointNames.parts(of: tensor, layout: params.layout) {
                    let count = part.shape.reduce(1, *)
                    out[CheckpointNames.exportName(part.checkpointName, bertName: tensor.name, layout: params.layout)] =
                        Array(UnsafeBufferPointer(start: params[tensor] + part.elementOffset, count: count))
                }
            }
            return out
        }
        let ours = hfTensors(gradients)
        let projectionNames = (0..<3).flatMap { ["projection_\($0)_weight", "projection_\($0)_bias"] }
        XCTAssertEqual(Set(expected.tensors.keys.filter { $0.hasPrefix("grad.") }), Set((Array(ours.keys) + projectionNames).map { "grad." + $0 }),
                       "the fixture's gradients and the student's tensors under their Hugging Face names")
        for (name, values) in ours { compare(name, values, try expected.floats("grad." + name), tolerance: 1e-4, what: "gradient") }
        for i in 0..<3 {
            compare("projection_\(i)_weight", objectives.projectionWeightGradients[i]!.toArray(), try expected.floats("grad.projection_\(i)_weight"), tolerance: 1e-4, what: "gradient")
            compare("projection_\(i)_bias", objectives.projectionBiasGradients[i]!.toArray(), try expected.floats("grad.projection_\(i)_bias"), tolerance: 1e-4, what: "gradient")
        }
        print(String(format: "golden %@ gradients: worst max|Δ|/max|g| over tensors with a non-zero gradient (of %d): %.2e", fixture, ours.count + 6, worst))

        // Clip and one AdamW step.
        let segments = ParameterSegment.segments(of: student.parameters, gradients: gradients) + objectives.segments
        let (norm, scale) = gradientClipping(segments, maxNorm: 1)
        XCTAssertEqual(norm, try scalar("grad_norm"), accuracy: 1e-5 * max(1, try scalar("grad_norm")))
        print(String(format: "golden %@ grad norm: Distillery %.8f, PyTorch %.8f", fixture, norm, try scalar("grad_norm")))
        AdamW(segments: segments, settings: .init(weightDecay: 0.01)).update(learningRate: 1e-3, gradientScale: scale)
        var worstUpdate: Float = 0
        for (name, values) in hfTensors(student.parameters) {
            let want = try expected.floats("updated." + name)
            let gradientScale = try expected.floats("grad." + name).map { abs($0) }.max() ?? 0
            let tolerance: Float = gradientScale < 1e-6 ? 1.1e-3 : 1e-5
            let diff = zip(values, want).map { abs($0 - $1) }.max() ?? 0
            if gradientScale >= 1e-6 { worstUpdate = max(worstUpdate, diff) }
            XCTAssertLessThanOrEqual(diff, tolerance, "updated \(name)")
        }
        print(String(format: "golden %@ updated parameters: worst max|Δ| (non-zero gradients): %.2e", fixture, Double(worstUpdate)))
    }
}
