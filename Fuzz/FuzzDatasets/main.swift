import Datasets
import Foundation
import FuzzSupport

// libFuzzer target: dataset rows. The first byte picks the format (JSON Lines, TSV, CSV) and the
// options (label and pair fields, an id field, a header, skipping bad rows, a fixed label map);
// the rest is the file. Built and run by `make fuzz`; a plain build prints how.
#if FUZZING
let files = ["jsonl", "tsv", "csv"].map { FuzzInput.file(extension: $0) }
FuzzInput.run { bytes in
    guard let selector = bytes.first else { return }
    let file = files[Int(selector % 3)]
    try? bytes.dropFirst().write(to: file)
    let bits = selector / 3
    var options = DatasetReadOptions()
    options.fields = DatasetFields(text: "text", textPair: bits & 1 != 0 ? "pair" : nil, label: bits & 2 != 0 ? "label" : nil,
                                   id: bits & 4 != 0 ? "id" : nil)
    options.skipBadRows = bits & 8 != 0
    options.hasHeader = bits & 16 == 0
    if bits & 32 != 0 { options.labelMap = LabelMap(names: ["neg", "pos"]) }
    if !options.hasHeader { options.fields = DatasetFields(text: "0", textPair: nil, label: bits & 2 != 0 ? "1" : nil, id: nil) }
    _ = try? Dataset.load(file, options: options)
}
#else
FileHandle.standardError.write(Data("FuzzDatasets is a libFuzzer target: run `make fuzz`\n".utf8))
exit(2)
#endif
