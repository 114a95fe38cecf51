import Bert
import Datasets
import Foundation
import Logging
import TeacherCache

/// A fine-tuning run: a pretrained BERT folder, labelled data, and where the run folder goes.
public struct FinetuneRequest: Sendable {
    /// A Hugging Face BERT folder, with or without a head (e.g. all-MiniLM-L6-v2).
    public var model: URL
    public var train: URL
    /// Held-out labelled data: evaluated after every epoch, and it picks the best/ checkpoint.
    public var dev: URL?
    /// Fields and format of both files; the label field is required.
    public var readOptions: DatasetReadOptions
    /// The run folder (see `TeacherFinetuning`).
    public var output: URL
    /// Tokens per sequence, [CLS]/[SEP] included.
    public var maxLength = 128
    /// The labels are scores: a one-output head trained with MSE on them. Otherwise they are
    /// classes (names or indices) and a classification head is trained with cross-entropy.
    public var regression = false
    /// Epochs, learning rate, batch size, warm-up, dropout, seed, …; the student's shape and the
    /// objective are fixed by the fine-tuning (see `TeacherFinetuning.trainSpec`).
    public var spec = TeacherFinetuning.defaults

    public init(model: URL, train: URL, dev: URL?, readOptions: DatasetReadOptions, output: URL) {
        self.model = model; self.train = train; self.dev = dev; self.readOptions = readOptions; self.output = output
    }
}

public struct FinetuneSummary: Sendable {
    public var training: TrainingSummary
    /// The fine-tuned model to use as a teacher (`distillery cache --teacher`): best/ when there
    /// was dev data, else final/.
    public var model: URL
    /// The dev evaluation that chose `model` (the highest dev score), when there was dev data.
    public var best: Evaluation?
    /// The inputs-only caches trained and evaluated on (in the run folder's work/).
    public var trainCache: URL
    public var devCache: URL?
}

/// Fine-tuning with the distillation engine: a pretrained BERT gets a new classification head (or
/// a one-output regression head) and is trained on labelled data, every layer included. Nothing
/// is distilled, so stage one stores only the tokenized inputs and labels (an inputs-only cache:
/// no teacher forward pass), and stage two trains a "student" that is the model itself: all of
/// its layers copied, the same widths, objective ce (classes) or mse on the gold scores.
///
/// The run folder is a `distillery train` run folder (config.json, metrics.jsonl, eval.jsonl,
/// best/, final/ as Hugging Face folders that `distillery cache --teacher` and transformers load)
/// plus work/: the two inputs-only caches. They stay there because they are small (token ids and
/// labels, no tensors), lie on the disk the user chose for the output rather than a possibly small
/// temporary one, and record exactly what the model was trained on (`distillery inspect`, or
/// `distillery train --cache` to train again). A regression run also writes work/initial (the
/// model with its new one-output head, what stage one needs to store float labels); it is as large
/// as the model, reproducible from the seed, and removed after training.
public enum TeacherFinetuning {
    /// BERT fine-tuning settings as in Devlin et al. 2019 and Hugging Face's examples: learning rate
    /// 5e-5 with 10 % linear warm-up and linear decay, 3 epochs, batch 32, dropout 0.1, weight decay 0.01.
    public static var defaults: TrainSpec {
        var spec = TrainSpec()
        spec.learningRate = 5e-5
        spec.epochs = 3
        spec.batchSize = 32
        spec.warmupRatio = 0.1
        spec.student.dropout = 0.1
        return spec
    }

    /// `settings` with the fine-tuning's fixed parts: every layer of a `layers`-deep model copied
    /// in order at its own widths, trained on the gold labels.
    public static func trainSpec(_ settings: TrainSpec, layers: Int, regression: Bool) -> TrainSpec {
        var spec = settings
        spec.student.layers = layers
        spec.student.hiddenSize = nil
        spec.student.heads = nil
        spec.student.intermediateSize = nil
        spec.student.initialization = .teacher(.lower)
        spec.objectives = regression ? [.mse: 1] : [.ce: 1]
        return spec
    }

    public static func run(_ request: FinetuneRequest, logger: Logger, progress: @escaping (StepReport) -> Void = { _ in }) throws -> FinetuneSummary {
        let fm = FileManager.default
        // The model and the data, checked before anything is written.
        var isFolder: ObjCBool = false
        guard fm.fileExists(atPath: request.model.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw DistillationError.io("no model folder at \(request.model.path) (expected a Hugging Face BERT folder: config.json, model.safetensors, vocab.txt)")
        }
        guard request.readOptions.fields.label != nil else {
            throw DistillationError.invalidSpec("fine-tuning needs labelled data: name the field holding the label (--label-field NAME)")
        }
        let base = try BertModel.load(directory: request.model)
        let spec = trainSpec(request.spec, layers: base.config.numHiddenLayers, regression: request.regression)
        try spec.validate()

        let run = try RunFolder(url: request.output)
        let work = request.output.appendingPathComponent("work")
        try? fm.removeItem(at: work)
        do { try fm.createDirectory(at: work, withIntermediateDirectories: true) } catch {
            throw DistillationError.io("cannot create \(work.path): \(error.localizedDescription)")
        }

        // The model as stage one sees it. Classes need no head in the folder (the cache stores the
        // class names and the trainer grows a head of that width); float labels are stored only
        // for a one-output head, so a regression run saves the model with one first.
        var model = request.model
        if request.regression && base.heads.classifierLabels != 1 {
            model = work.appendingPathComponent("initial")
            let headed = StudentFactory.model(base, withHeads: BertHeads(pooler: true, classifierLabels: 1), seed: spec.seed)
            try StudentExport.save(headed, to: model, tokenizerFrom: request.model)
        }
        defer { if model != request.model { try? fm.removeItem(at: model) } }

        // Stage one, inputs only: token ids and labels; the teacher is not run.
        var cacheSpec = CacheSpec()
        // No longer than the model's positions (the trainer sizes its buffers by the cache's max length).
        cacheSpec.maxLength = min(request.maxLength, base.config.maxSequenceLength)
        cacheSpec.batchSize = spec.batchSize
        func cache(_ data: URL, _ name: String, labelMap: LabelMap?) throws -> URL {
            var options = request.readOptions
            options.labelMap = labelMap ?? options.labelMap
            var cacheRequest = CacheRequest(teacher: model, data: [data], readOptions: options, spec: cacheSpec,
                                            output: work.appendingPathComponent("\(name).h5"))
            cacheRequest.overwrite = true
            let summary = try CacheBuilder.build(cacheRequest, logger: logger)
            logger.info("\(name): \(summary.sequences) labelled sequences, \(summary.tokens) tokens")
            return summary.output
        }
        let trainCache = try cache(request.train, "train", labelMap: nil)
        // Dev takes train's classes, so that class indices agree even when dev lacks a class.
        let classes = try CacheReader(url: trainCache).labelNames.map(LabelMap.init(names:))
        let devCache = try request.dev.map { try cache($0, "dev", labelMap: classes) }

        // Stage two: the whole model, every layer copied, trained on the gold labels.
        let trainer = try StudentTrainer(spec: spec, cache: trainCache, teacherDirectory: model, logger: logger)
        logger.info("fine-tuning \(request.model.path): \(spec.student.layers) layers, head of \(trainer.plan.classifierLabels) output(s), objective \(spec.objectives.keys.map(\.rawValue).sorted().joined(separator: ", "))")
        let summary = try trainer.train(dev: devCache, run: run, progress: progress)
        var best: Evaluation?  // the first of the highest scores, as the trainer's best/ checkpoint
        for evaluation in summary.evaluations where best.map({ evaluation.score > $0.score }) ?? true { best = evaluation }
        let chosen = fm.fileExists(atPath: run.bestCheckpoint.path) ? run.bestCheckpoint : run.finalCheckpoint
        return FinetuneSummary(training: summary, model: chosen, best: best, trainCache: trainCache, devCache: devCache)
    }
}
