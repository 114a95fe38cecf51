import Foundation
import FuzzSupport
import SafeTensors

// libFuzzer target: any bytes as a .safetensors file (header, offsets, dtypes, data), read the
// way the model loader reads it. Built and run by `make fuzz`; a plain build prints how.
#if FUZZING
let file = FuzzInput.file(extension: "safetensors")
FuzzInput.run { bytes in
    try? bytes.write(to: file)
    guard let tensors = try? SafeTensorsFile(url: file) else { return }
    for name in tensors.names {
        _ = try? tensors.floats(name)
        _ = try? tensors.int64s(name)
        _ = try? tensors.floats(name, shape: tensors.tensors[name]?.shape ?? [])
    }
}
#else
FileHandle.standardError.write(Data("FuzzSafeTensors is a libFuzzer target: run `make fuzz`\n".utf8))
exit(2)
#endif
