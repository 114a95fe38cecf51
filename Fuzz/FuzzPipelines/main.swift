import Foundation
import FuzzSupport
import Pipelines

// libFuzzer target: pipeline files (pipelines/*.yaml) — schema validation, then decoding and
// the grid's expansion; a file that loads must give Slurm scripts of the template's lines only
// (a crash otherwise). Nothing runs. Built and run by `make fuzz`; a plain build prints how.
#if FUZZING
let file = FuzzInput.file(extension: "yaml")
let results = file.deletingLastPathComponent().appendingPathComponent("results")
let options = SlurmExecutor.Options(binary: "/opt/distillery/bin/distillery", directory: "/work", pipelineFile: "study.yaml", results: "results")
FuzzInput.run { bytes in
    try? bytes.write(to: file)
    guard let pipeline = try? Pipeline.load(file, results: results), let executor = try? SlurmExecutor(pipeline: pipeline, options: options) else { return }
    for script in executor.scripts() {
        if let violation = SlurmExecutor.templateViolation(script.text) { fatalError("\(script.file.lastPathComponent): \(violation)") }
    }
}
#else
FileHandle.standardError.write(Data("FuzzPipelines is a libFuzzer target: run `make fuzz`\n".utf8))
exit(2)
#endif
