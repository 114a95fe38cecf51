import ArgumentParser
import Distillation
import Foundation
import Logging
import Objectives

extension TedFilterKind: ExpressibleByArgument {}

/// `distillery ted-filters`: TED stage one, the teacher's filters trained from a labelled cache.
struct TedFiltersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ted-filters",
        abstract: "TED stage one: train task-aware filters on the teacher's cached hidden states (the teacher is never run).",
        discussion: """
        Liang et al. 2023: one filter per chosen teacher layer (linear h → h_f, or mlp: linear, GELU, \
        linear), each with its own task head (pooler + classifier on [CLS]); the loss is the mean of \
        the heads' cross-entropies. The cache must hold the chosen layers' hidden states and gold \
        labels (`distillery cache --hidden … --label-field …`). Writes the filters as safetensors \
        (ted.teacher_layer_L.filter.*, ted.teacher_layer_L.head.*) and a JSON summary next to them \
        (same name, .json). Stage two: `distillery train --objective ted=α --ted-filters FILE`.
        """
    )

    @Option(help: "Labelled training cache written by `distillery cache`.") var cache: String
    @Option(help: "Labelled dev cache of the same teacher: each filter's head accuracy.") var dev: String?
    @Option(help: "Teacher hidden layers to filter, e.g. 2,4,6 (default: every cached hidden layer ≥ 1).") var layers: String?
    @Option(help: "Filter shape: linear or mlp (default linear).") var kind: TedFilterKind = .linear
    @Option(help: "Filter width h_f (default: the teacher's hidden size).") var width: Int?
    @Option(help: "Epochs (default 3).") var epochs: Int = 3
    @Option(help: "Stop after this many updates.") var maxSteps: Int = 0
    @Option(help: "Sequences per update (default 32).") var batchSize: Int = 32
    @Option(help: "Peak learning rate, linear warm-up (10%) and decay (default 1e-3).") var learningRate: Float = 1e-3
    @Option(help: "Seed of initialisation and shuffling (default 0).") var seed: UInt64 = 0
    @Option(help: "Filters file to write (.safetensors); the summary goes next to it as .json.") var out: String
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        threads.apply()
        var spec = TeacherFilterSpec()
        if let layers {
            guard let parsed = layerNumbers(layers) else { throw ValidationError("--layers '\(layers)': expected layer numbers like 2,4,6") }
            spec.layers = parsed
        }
        spec.kind = kind; spec.width = width; spec.epochs = epochs; spec.maxSteps = maxSteps; spec.batchSize = batchSize
        spec.learningRate = learningRate; spec.seed = seed
        do { try spec.validate() } catch let error as DistillationError { throw ValidationError(error.description) }
        let training = try TeacherFilterTraining(spec: spec, cache: URL(fileURLWithPath: cache), logger: Logger(label: "distillery.ted-filters"))
        let configuration = try JSONSerialization.data(withJSONObject: training.resolvedConfiguration, options: [.prettyPrinted, .sortedKeys])
        FileHandle.standardError.write(configuration + Data("\n".utf8))
        let bar = ProgressReporter(label: "ted-filters")
        let summary = try training.train(dev: dev.map { URL(fileURLWithPath: $0) }) { report in
            bar.update(done: report.step, total: report.totalSteps, rate: report.sequencesPerSecond,
                       unit: String(format: "sequences/s, loss %.4f", report.loss))
        }
        bar.finish()
        let url = URL(fileURLWithPath: out)
        try training.save(to: url, summary: summary)
        var line = String(format: "trained %d filters (%@, width %d) on teacher layers %@ in %d steps, loss %.4f → %.4f; wrote %@ and %@",
                          training.layers.count, spec.kind.rawValue, training.width, training.layers.map(String.init).joined(separator: ","),
                          summary.steps, summary.lossHistory.first ?? 0, summary.lossHistory.last ?? 0,
                          out, TeacherFilterTraining.summaryURL(for: url).path)
        if !summary.devAccuracy.isEmpty {
            line += String(format: "\ndev (%d examples, majority class %.4f): ", summary.devExamples, summary.majorityRate ?? 0)
                + summary.devAccuracy.sorted { $0.key < $1.key }.map { String(format: "layer %d accuracy %.4f", $0.key, $0.value) }.joined(separator: ", ")
        }
        print(line)
    }
}
