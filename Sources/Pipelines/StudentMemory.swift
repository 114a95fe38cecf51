import Bert
import Distillation
import Foundation
import Training

/// How much memory a student holds while it trains, roughly, so that a students task never
/// gathers more students than the machine (or the Slurm job) can hold: a first seed study of 45
/// students in one pass was killed for memory at 24 GiB.
enum StudentMemory {
    /// Weights, gradients and two AdamW moments (16 bytes per parameter); activations, the batch's
    /// teacher targets and work buffers (~40 floats per token, width and layer); and what grows
    /// with the square of the length: the graph's attention buffers (`BertTrainingGraph.attentionFloats`)
    /// and the teacher's attention targets, for the batch in use and the one read ahead.
    /// 0.65 GiB for a 3-layer 384-wide student of a 30k-word model at 32 × 64 tokens, where 15 such
    /// students of the seed study measured 9.6 GiB resident together (0.64 GiB each). At 32 × 512
    /// tokens the squared terms are 2.8 GB of its 6.1 GB. A lone student with attention KL grew from
    /// 0.57 to 1.36 GiB resident between 32 × 32 and 32 × 128 tokens; this estimate grows by 0.73 GiB,
    /// the per-token term alone by 0.53.
    static func bytes(_ spec: TrainSpec, teacher: BertConfig, maxLength: Int) -> Int {
        guard let config = try? StudentFactory.config(for: spec.student, teacher: teacher) else { return 0 }
        let parameters = BertLayout(config: config, heads: BertHeads(pooler: true, classifierLabels: 2)).count
        let layers = config.numHiddenLayers, batch = spec.batchSize
        let activations = 4 * batch * maxLength * config.hiddenSize * 40 * layers
        let attention = 4 * BertTrainingGraph.attentionFloats(layers: layers, heads: config.numAttentionHeads, maxBatch: batch, maxSeq: maxLength)
        let teacherLayers = spec.objectives[.attentionKL] == nil ? 0
            : Set((try? spec.attentionMapping.resolve(studentLayers: layers, teacherLayers: teacher.numHiddenLayers,
                                                      includesEmbeddings: false, what: "attention"))?.map(\.teacher) ?? []).count
        let teacherAttention = 2 * 4 * teacherLayers * batch * teacher.numAttentionHeads * maxLength * maxLength
        return 16 * parameters + activations + attention + teacherAttention
    }

    /// What a students task may hold: 80 % of the job's memory (`resources.memory_gb`), or 60 % of
    /// this machine's, less 1 GiB for the cache reader and the teacher's targets.
    static func budget(_ resources: Pipeline.Resources?) -> Int {
        let total = resources?.memoryGB.map { Int($0 * 0.8 * Double(1 << 30)) } ?? Int(Double(ProcessInfo.processInfo.physicalMemory) * 0.6)
        return max(1 << 30, total - (1 << 30))
    }

    /// Most students per task that fit the budget (nil: no limit known, e.g. no teacher config yet).
    static func studentsPerTask(_ pipeline: Pipeline) -> Int? {
        let folder: String
        switch pipeline.teacher {
        case .folder(let url): folder = url.path
        case .finetune(let settings): folder = settings.from!
        }
        guard let teacher = try? BertConfig.load(from: URL(fileURLWithPath: folder).appendingPathComponent("config.json")) else { return nil }
        let largest = pipeline.students.map { bytes($0.named.spec, teacher: teacher, maxLength: pipeline.data.maxLength) }.max() ?? 0
        guard largest > 0 else { return nil }
        return max(1, budget(pipeline.resources) / largest)
    }
}
