import ArgumentParser
import Distillation
import Foundation
import Logging

/// `distillery finetune`: a pretrained BERT plus a new head, trained on labelled data, saved as a
/// Hugging Face folder to use as a teacher.
struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Fine-tune a pretrained BERT folder with a new classification (or regression) head on labelled data.",
        discussion: """
        Every layer of the model is trained, with a new head: one output per class, or one output \
        trained with MSE when --regression says the labels are scores. The data is tokenized once \
        into inputs-only caches (OUT/work/train.h5, dev.h5; the model is not run for them), then \
        the training engine of `distillery train` runs with cross-entropy (or MSE) on the labels, \
        evaluating on --dev after every epoch. OUT is a run folder: config.json, metrics.jsonl, \
        eval.jsonl, and Hugging Face folders best/ (best dev score) and final/, which \
        `distillery cache --teacher` and transformers load.
        """
    )

    @OptionGroup var model: ModelOptions
    @Option(help: "Labelled training data (JSON Lines, TSV or CSV).") var train: String
    @Option(help: "Labelled dev data: evaluated after every epoch; picks best/.") var dev: String?
    @Option(help: "Run folder to create (config, metrics, work/ caches, best/ and final/ models).") var out: String
    @OptionGroup var fields: DataFieldOptions

    @Flag(help: "The labels are scores: train a one-output head with MSE (default: classes, cross-entropy).") var regression = false
    @Option(help: "Tokens per sequence, [CLS]/[SEP] included (default 128).") var maxLength = 128
    @Option(help: "Epochs (default 3).") var epochs: Int?
    @Option(help: "Peak learning rate, after 10% linear warm-up, then linear decay (default 5e-5).") var learningRate: Float?
    @Option(help: "Sequences per update (default 32).") var batchSize: Int?
    @Option(help: "Seed of the new head, shuffling and dropout (default 0).") var seed: UInt64?
    @OptionGroup var precision: PrecisionOptions
    @OptionGroup var threads: ThreadOptions

    func validate() throws {
        if fields.labelField == nil { throw ValidationError("fine-tuning needs labelled data: name the label field with --label-field NAME") }
        if maxLength < 3 { throw ValidationError("--max-length must be at least 3") }
    }

    func run() throws {
        threads.apply()
        let logger = Logger(label: "distillery.finetune")
        var request = FinetuneRequest(model: URL(fileURLWithPath: model.model), train: URL(fileURLWithPath: train),
                                      dev: dev.map { URL(fileURLWithPath: $0) }, readOptions: fields.readOptions, output: URL(fileURLWithPath: out))
        request.maxLength = maxLength
        request.regression = regression
        if let epochs { request.spec.epochs = epochs }
        if let learningRate { request.spec.learningRate = learningRate }
        if let batchSize { request.spec.batchSize = batchSize }
        if let seed { request.spec.seed = seed }
        if precision.precision != .fp32 { request.spec.precision = precision.precision }
        let bar = ProgressReporter(label: "finetune")
        let summary = try TeacherFinetuning.run(request, logger: logger) { report in
            bar.update(done: report.step, total: report.totalSteps, rate: report.tokensPerSecond,
                       unit: String(format: "tokens/s, loss %.4f", report.loss))
        }
        bar.finish()
        var lines = [String(format: "fine-tuned %@ in %d steps, %.0f tokens/s; run folder %@",
                            model.model, summary.training.steps, summary.training.tokensPerSecond, out)]
        if let best = summary.best {
            if let accuracy = best.classification?.accuracy { lines.append(String(format: "dev accuracy %.4f (step %d)", accuracy, best.step)) }
            if let mse = best.regressionMSE { lines.append(String(format: "dev MSE %.4f (step %d)", mse, best.step)) }
            lines.append("dev: " + best.summaryLine)
        }
        lines.append("teacher: \(summary.model.path)  (distillery cache --teacher \(summary.model.path) …)")
        print(lines.joined(separator: "\n"))
    }
}
