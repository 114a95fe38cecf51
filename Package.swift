// swift-tools-version:5.9
import PackageDescription

// Module map (one job each):
//   CHDF5, CBLAS, CZstd    system libraries through pkg-config, with shim headers
//   CDNNL                  oneDNN (Debian libdnnl-dev): the bf16 matmul primitive for --precision bf16
//   HDF5Zstd               the zstd HDF5 filter (C); also built as a plugin by the Makefile
//   HalfFloat              Float ↔ float16 / bfloat16 bits, one copy for safetensors, HDF5 and cache rows
//   HalfFloatVector        the cache writer's Float → float16 rows with the CPU's conversion (F16C, C)
//   HDF5                   a small Swift wrapper over the HDF5 C API
//   JSON                   one JSON value type (ordered objects, numbers with their text) and a bounded, strict parser
//   SafeTensors            reading and writing .safetensors files
//   Tokenization           tokenizers identical to Hugging Face's: BERT WordPiece (vocab.txt), byte-level BPE, SentencePiece unigram, tokenizer.json
//   Kernels                BLAS-backed matrix work and layer kernels
//   Bert                   BERT config, weights (strict loading, export) and the batched forward pass
//   Hashing                SHA-256 content hashes for provenance (swift-crypto)
//   Datasets               reading labelled text datasets (JSON Lines, TSV, CSV)
//   Settings               a spec's settings declared once (key, default, help, check): coding, flag help, validation
//   TeacherCache           stage one: run the teacher once, store its outputs in compressed HDF5; read them back
//   Objectives             distillation losses with hand-written gradients (KD, sparse KD, hidden, attention, relations, TED)
//   Training               the trainable BERT: forward and backward with saved activations, AdamW, schedules
//   Distillation           stage two: students trained from the cache (mapping, initialisation, evaluation, export)
//   ShellWords             quoting words for shell command lines (generated scripts, printed commands)
//   BoundedYAML            YAML from untrusted files with bounded size, depth and alias expansion (then Yams)
//   SchemaValidation       JSON Schema (the subset our schemas use) checked against YAML/JSON files, every violation by path
//   Reports                a finished study as tables (Markdown, CSV, JSON) and a self-contained HTML report
//   Pipelines              a whole study from one YAML file: plan (sizes, time), run (teacher, cache, students, evaluation, report)
//   Benchmarks             throughput of the teacher, stage one, a training step and many students (`distillery bench`, any BERT folder)
//   Distillery             the `distillery` command line
// The hot loops (element-wise kernels, losses, the optimizer, the forward pass, the cache's codecs)
// compiled for AVX2 and FMA (Haswell and later, every x86-64 server since 2013): twice the vector
// width of the x86-64 baseline. The CLI checks the CPU before running any of it (CPUFeatures).
let vectorCode: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
/// The same for C: the chunk filters' byte shuffle and Fletcher32 (3–4× faster with AVX2), and the
/// cache's fp16 encoding with F16C.
let vectorC: [CSetting] = [.unsafeFlags(["-march=haswell"])]

let package = Package(
    name: "Distillery",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "distillery", targets: ["Distillery"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        .target(name: "HDF5Zstd", dependencies: ["CHDF5", "CZstd"], cSettings: vectorC),
        .target(name: "HalfFloat"),
        .target(name: "HalfFloatVector", cSettings: vectorC),
        .target(name: "HDF5", dependencies: ["CHDF5", "HDF5Zstd", "HalfFloat"], swiftSettings: vectorCode),
        .target(name: "JSON"),
        .target(name: "SafeTensors", dependencies: ["HalfFloat", "JSON"]),
        .target(name: "Tokenization", dependencies: ["JSON"]),
        .target(name: "Kernels", dependencies: ["CBLAS", "CDNNL", "HalfFloat"], swiftSettings: vectorCode),
        .target(name: "Bert", dependencies: ["Kernels", "SafeTensors"], swiftSettings: vectorCode),
        .target(name: "Hashing", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Datasets", dependencies: ["Hashing", "JSON"]),
        .target(name: "Settings"),
        .target(name: "TeacherCache", dependencies: ["Bert", "Tokenization", "Datasets", "Hashing", "HDF5", "Kernels", "BoundedYAML", "ShellWords", "HalfFloat", "HalfFloatVector", "Settings",
                                                     .product(name: "Logging", package: "swift-log"), "Yams"], swiftSettings: vectorCode),
        .target(name: "Objectives", dependencies: ["Kernels"], swiftSettings: vectorCode),
        .target(name: "Training", dependencies: ["Kernels", "Bert"], swiftSettings: vectorCode),
        .target(name: "Distillation", dependencies: ["Training", "Objectives", "TeacherCache", "Bert", "Kernels", "Tokenization",
                                                     "Datasets", "SafeTensors", "Hashing", "Settings", .product(name: "Logging", package: "swift-log"), "Yams"]),
        .target(name: "BoundedYAML", dependencies: ["Yams"]),
        .target(name: "ShellWords"),
        .target(name: "SchemaValidation", dependencies: ["BoundedYAML", "JSON", "Yams"]),
        .target(name: "Reports"),
        .target(name: "Pipelines", dependencies: ["Distillation", "Training", "TeacherCache", "Bert", "Kernels", "Datasets", "Tokenization", "Reports", "Hashing", "ShellWords",
                                                  "SchemaValidation", .product(name: "Logging", package: "swift-log"), "Yams"]),
        .target(name: "Benchmarks", dependencies: ["Bert", "Kernels", "Datasets", "TeacherCache", "Distillation",
                                                   .product(name: "Logging", package: "swift-log")]),
        .executableTarget(name: "Distillery", dependencies: [
            "Bert", "Tokenization", "SafeTensors", "Datasets", "Hashing", "HDF5", "TeacherCache", "Objectives", "Distillation", "Pipelines", "Reports", "Kernels",
            "Benchmarks", "Settings",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Shared by the test targets: running programs, paths, temporary folders, seeded test data.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors", "HalfFloat", "JSON", "TestSupport"]),
        .testTarget(name: "TokenizationTests", dependencies: ["TestSupport", "Tokenization"]),
        .testTarget(name: "KernelsTests", dependencies: ["TestSupport", "Kernels", "HalfFloat"]),
        .testTarget(name: "BertTests", dependencies: ["TestSupport", "Bert", "SafeTensors"]),
        .testTarget(name: "HDF5Tests", dependencies: ["TestSupport", "HDF5"]),
        .testTarget(name: "DatasetsTests", dependencies: ["TestSupport", "Datasets", "Hashing"]),
        .testTarget(name: "TeacherCacheTests", dependencies: ["TestSupport", "TeacherCache", "Bert", "HDF5", "ShellWords", "Datasets", "Tokenization", "Kernels",
                                                              .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "ObjectivesTests", dependencies: ["TestSupport", "Objectives", "Kernels"]),
        .testTarget(name: "TrainingTests", dependencies: ["TestSupport", "Training", "Bert", "Kernels", "SafeTensors"]),
        .testTarget(name: "DistillationTests", dependencies: ["TestSupport", "Distillation", "Training", "Objectives", "TeacherCache", "Datasets",
                                                              "Bert", "Kernels", "SafeTensors", "HDF5", "Settings", "Tokenization"]),
        .testTarget(name: "SchemaValidationTests", dependencies: ["TestSupport", "SchemaValidation", "BoundedYAML", "Distillation", "TeacherCache", "Training", "Datasets",
                                                                  "Settings"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "ReportsTests", dependencies: ["TestSupport", "Reports"]),
        .testTarget(name: "PipelinesTests", dependencies: ["TestSupport", "Pipelines", "Distillation", "TeacherCache", "Bert", "Reports", "Hashing"]),
        .testTarget(name: "BenchmarksTests", dependencies: ["TestSupport", "Benchmarks"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport", "Distillery", "Distillation", "ShellWords", "SafeTensors", "TeacherCache", "HDF5", "Settings"]),
        // libFuzzer targets for the parsers of untrusted files (`make fuzz`; a plain build makes stubs).
        .target(name: "FuzzSupport", path: "Fuzz/FuzzSupport"),
        .executableTarget(name: "FuzzSafeTensors", dependencies: ["FuzzSupport", "SafeTensors"], path: "Fuzz/FuzzSafeTensors"),
        .executableTarget(name: "FuzzDatasets", dependencies: ["FuzzSupport", "Datasets"], path: "Fuzz/FuzzDatasets"),
        .executableTarget(name: "FuzzSpecs", dependencies: ["FuzzSupport", "TeacherCache", "Distillation"], path: "Fuzz/FuzzSpecs"),
        .executableTarget(name: "FuzzPipelines", dependencies: ["FuzzSupport", "Pipelines"], path: "Fuzz/FuzzPipelines"),
        .executableTarget(name: "FuzzTokenizers", dependencies: ["FuzzSupport", "Tokenization"], path: "Fuzz/FuzzTokenizers"),
    ]
)
