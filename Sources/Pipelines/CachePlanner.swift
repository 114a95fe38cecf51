import Bert
import Distillation
import Foundation
import TeacherCache

/// The smallest cache that serves every student of a study: each student's training plan is
/// resolved against a cache that would hold everything, and the union of what the plans read
/// (hidden, attention and Q/K/V layers, logit forms) is what stage one stores.
enum CachePlanner {
    static func derive(for students: [NamedStudent], teacher config: BertConfig, labelled: Bool, maxLength: Int) throws -> CacheSpec {
        let layers = config.numHiddenLayers
        var everything = CacheSpec()
        everything.hiddenLayers = Array(0...layers)
        everything.attentionLayers = Array(1...layers)
        everything.relationLayers = Array(1...layers)
        everything.logits = [.full, .topk, .sampled]
        let teacher = CacheProvenance.Teacher(path: "", config: "", weightsSHA256: "", vocabularySHA256: "", vocabularySize: config.vocabSize,
                                              hiddenSize: config.hiddenSize, layers: layers, heads: config.numAttentionHeads,
                                              head: labelled ? "classifier" : "none", classifierLabels: labelled ? 2 : 0)
        var hidden = Set<Int>(), attention = Set<Int>(), relations = Set<Int>(), logits = Set<CacheSpec.LogitsForm>()
        for student in students {
            var spec = student.spec
            // TED reads the hidden states its mapping pairs with (its filters need not exist yet).
            if spec.objectives.removeValue(forKey: .ted) != nil {
                let pairs = try spec.tedMapping.resolve(studentLayers: spec.student.layers, teacherLayers: layers, includesEmbeddings: false, what: "ted")
                hidden.formUnion(pairs.map(\.teacher))
                if spec.objectives.isEmpty { continue }
            }
            let plan: TrainingPlan
            do {
                let tokenizer = try StudentFactory.tokenizer(for: spec.student)
                plan = try TrainingPlan(spec: spec, student: try StudentFactory.config(for: spec.student, teacher: config, tokenizer: tokenizer),
                                        teacher: teacher, cacheSpec: everything, isMaskedLM: false, labelNames: labelled ? ["0", "1"] : nil,
                                        tokenizer: tokenizer)
            } catch {
                throw PipelineError.invalid("student \(student.name): \(error)")
            }
            hidden.formUnion(plan.selection.hiddenLayers)
            attention.formUnion(plan.selection.attentionLayers)
            relations.formUnion(plan.selection.relationLayers)
            logits.formUnion(plan.selection.logits)
        }
        var spec = CacheSpec()
        spec.maxLength = maxLength
        spec.hiddenLayers = hidden.sorted()
        spec.attentionLayers = attention.sorted()
        spec.relationLayers = relations.sorted()
        spec.logits = CacheSpec.LogitsForm.allCases.filter(logits.contains)
        return spec
    }

    /// Teacher layers whose hidden states TED students filter (stage one trains filters for them).
    static func tedLayers(for students: [NamedStudent], teacherLayers: Int) throws -> [Int] {
        var layers = Set<Int>()
        for student in students where student.spec.objectives[.ted] != nil {
            let pairs = try student.spec.tedMapping.resolve(studentLayers: student.spec.student.layers, teacherLayers: teacherLayers,
                                                            includesEmbeddings: false, what: "ted")
            layers.formUnion(pairs.map(\.teacher))
        }
        return layers.sorted()
    }
}
