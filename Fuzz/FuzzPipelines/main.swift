import Foundation
import FuzzSupport
import Pipelines

// libFuzzer target: pipeline files (pipelines/*.yaml) — schema validation, then decoding and
// the grid's expansion. Nothing runs. Built and run by `make fuzz`; a plain build prints how.
#if FUZZING
let file = FuzzInput.file(extension: "yaml")
let results = file.deletingLastPathComponent().appendingPathComponent("results")
FuzzInput.run { bytes in
    try? bytes.write(to: file)
    _ = try? Pipeline.load(file, results: results)
}
#else
FileHandle.standardError.write(Data("FuzzPipelines is a libFuzzer target: run `make fuzz`\n".utf8))
exit(2)
#endif
