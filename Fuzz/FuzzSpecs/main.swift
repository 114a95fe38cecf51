import Distillation
import Foundation
import FuzzSupport
import TeacherCache

// libFuzzer target: the YAML a user writes. The first byte picks the reader: a cache spec
// (`cache:`), a training spec (`train:`), or a student list (`students:`); the rest is the file.
// Built and run by `make fuzz`; a plain build prints how.
#if FUZZING
let file = FuzzInput.file(extension: "yaml")
FuzzInput.run { bytes in
    guard let selector = bytes.first else { return }
    try? bytes.dropFirst().write(to: file)
    switch selector % 3 {
    case 0: _ = try? CacheSpec.load(yaml: file)
    case 1: _ = try? TrainSpec.load(yaml: file)
    default: _ = try? StudentList.load(list: file, base: nil)
    }
}
#else
FileHandle.standardError.write(Data("FuzzSpecs is a libFuzzer target: run `make fuzz`\n".utf8))
exit(2)
#endif
