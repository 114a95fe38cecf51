import Datasets
import Distillation
import Foundation
import SchemaValidation
import Settings
import TeacherCache
import TestSupport
import Training
import XCTest

/// schemas/pipeline.schema.json against the pipeline format of docs/pipelines.md: it accepts the
/// shipped files, the documented example and fixtures that set every key; it names typical mistakes
/// by path; and its keys and enums are the Swift types' own.
final class PipelineSchemaTests: XCTestCase {
    static let schemaURL = packageRoot.appendingPathComponent("schemas/pipeline.schema.json")
    static let fixtures = packageRoot.appendingPathComponent("Tests/SchemaValidationTests/Fixtures")

    private func schema() throws -> JSONSchema { try JSONSchema(contentsOf: Self.schemaURL) }

    private func violations(_ yaml: String) throws -> [String] {
        try schema().validate(try loadYAMLAsJSON(string: yaml)).map(\.description)
    }

    // MARK: What the schema accepts

    /// The schema's `folderName` and Swift's `FolderName` accept the same names.
    func testFolderNameRuleMatchesSwift() throws {
        let names = ["demo", "kd-lower-s0", "a.b_c", "-x", "_x", ".hidden", "..", "../up", "a/b", "/abs", "a b", "a;b", "$(id)", "a'b",
                     "ünï", "", String(repeating: "a", count: 100), String(repeating: "a", count: 101)]
        for name in names {
            let schemaSays = try violations("name: \(String(decoding: try JSONEncoder().encode(name), as: UTF8.self))\nteacher: {path: x}\ndata: {train: t.jsonl}").isEmpty
            XCTAssertEqual(schemaSays, FolderName.problem(name) == nil, "\(name.prefix(20).debugDescription): schema \(schemaSays), Swift \(FolderName.problem(name) ?? "ok")")
        }
    }

    func testShippedPipelinesValidate() throws {
        let documents = try PipelineDocuments.shipped()
        XCTAssertFalse(documents.isEmpty, "no file in pipelines/ has students: or grid:")
        for document in documents {
            let found = try schema().validate(document.value, against: document.ref)
            XCTAssertEqual(found.map(\.description), [], "\(document.name)")
        }
    }

    func testFixturesValidate() throws {
        for name in ["every-key.yaml", "task-agnostic-grid.yaml"] {
            XCTAssertEqual(try schema().validate(contentsOf: Self.fixtures.appendingPathComponent(name)).map(\.description), [], name)
        }
    }

    /// The example of docs/pipelines.md validates as it stands.
    func testDocumentedExample() throws {
        XCTAssertEqual(try schema().validate(try PipelineDocuments.documentedExample()).map(\.description), [])
    }

    // MARK: What it refuses

    /// A valid pipeline, and one line changed in it.
    private static let base = """
    name: study
    teacher:
      path: runs/teacher/best
    data:
      train: data/train.jsonl
      label_field: label
    training:
      epochs: 2
    students:
      - name: kd
        objectives: {kd: 0.5, ce: 0.5}
        student: {layers: 3, init: lower}
      - name: attention
        objectives: {kd: 0.5, attention_kl: 1}
        student: {init: [1, 3, 5]}
    """

    private func with(_ old: String, _ new: String) -> String {
        precondition(Self.base.contains(old), old)
        return Self.base.replacingOccurrences(of: old, with: new)
    }

    func testBaseIsValid() throws {
        XCTAssertEqual(try violations(Self.base), [])
    }

    func testUnknownKeyInAStudent() throws {
        XCTAssertEqual(try violations(with("  - name: attention\n", "  - name: attention\n    epochz: 3\n")), [
            "students[1]: unknown key 'epochz' (known: name, student, objectives, temperature, scale_by_temperature_squared, topk_tail, relation_heads, hidden_mapping, attention_mapping, relation_mapping, ted_filters, ted_mapping, epochs, max_steps, batch_size, learning_rate, warmup_ratio, schedule, weight_decay, clip_norm, seed, data_seed, checkpoint_every, eval_every, log_every, pooling, precision)",
        ])
    }

    func testStringWeight() throws {
        XCTAssertEqual(try violations(with("{kd: 0.5, ce: 0.5}", "{kd: \"0.5\", ce: 0.5}")), ["students[0].objectives.kd: expected a number"])
    }

    func testBothTeacherForms() throws {
        XCTAssertEqual(try violations(with("  path: runs/teacher/best\n", "  path: runs/teacher/best\n  finetune: {from: models/minilm}\n")), [
            "teacher: matches more than one of: a teacher folder (path); a pretrained encoder to fine-tune first (finetune) (expected exactly one)",
        ])
        XCTAssertEqual(try violations(with("  path: runs/teacher/best\n", "  finetune: {epochs: 1}\n")), ["teacher.finetune: missing required key 'from'"])
        XCTAssertEqual(try violations(with("  path: runs/teacher/best\n", "  {}\n")), [
            "teacher: expected a teacher folder (path), or a pretrained encoder to fine-tune first (finetune)",
        ])
    }

    func testUnknownObjective() throws {
        let found = try violations(with("{kd: 0.5, attention_kl: 1}", "{kd: 0.5, attention_k: 1}"))
        XCTAssertEqual(found, ["students[1].objectives: unknown key 'attention_k' (known: ce, mse, kd, kd_topk, kd_sampled, hidden_mse, hidden_cosine, attention_kl, attention_scores, value_relation, relations, ted, pooled_mse)"])
    }

    func testNegativeEpochs() throws {
        XCTAssertEqual(try violations(with("  epochs: 2", "  epochs: -1")), ["training.epochs: must be at least 0, not -1"])
    }

    func testEveryMistakeIsReportedAtOnce() throws {
        let yaml = with("  epochs: 2", "  epochs: -1\n  schedule: cosin")
            .replacingOccurrences(of: "init: lower", with: "init: lowest")
            .replacingOccurrences(of: "  train: data/train.jsonl\n", with: "  format: parquet\n")
            .replacingOccurrences(of: "name: study", with: "name: my study")
        XCTAssertEqual(try violations(yaml), [
            "name: 'my study' does not match ^[A-Za-z0-9_-][A-Za-z0-9._-]*$",
            "data: missing required key 'train'",
            "data.format: expected one of jsonl, tsv, csv",
            "training.epochs: must be at least 0, not -1",
            "training.schedule: expected one of linear, cosine, constant",
            #"students[0].student.init: expected random, lower, upper or uniform, or teacher layers like "1,3,5", or teacher layers like [1, 3, 5]"#,
        ])
    }

    func testLayerMappingsAndGrid() throws {
        let pipeline = """
        teacher: {path: t}
        data: {train: d.jsonl}
        training: {hidden_mapping: "1:2,2:x", attention_mapping: 6, ted_mapping: " 1:2 , 2:4 "}
        grid:
          objectives: {kd: {kd: 1}, "bad name": {kd: 1}}
          init: [lower, [0, 2]]
          layers: [0]
          seeds: []
          name: "{objectives}/{init}"
        """
        XCTAssertEqual(try violations(pipeline), [
            #"training.hidden_mapping: expected uniform or last, or student:teacher pairs like "1:2,2:4""#,
            #"training.attention_mapping: expected uniform or last, or student:teacher pairs like "1:2,2:4""#,
            "grid.objectives: key 'bad name': 'bad name' does not match ^[A-Za-z0-9_-][A-Za-z0-9._-]*$",
            "grid.init[1][0]: must be at least 1, not 0",
            "grid.layers[0]: must be at least 1, not 0",
            "grid.seeds: expected at least one item",
            "grid.name: '{objectives}/{init}' does not match ^([A-Za-z0-9._-]|\\{[a-z_]+\\})+$",
        ])
        XCTAssertEqual(try violations("teacher: {path: t}\ndata: {train: d}\ngrid: {layers: [3]}"), [
            "grid: missing required key 'objectives'", "grid: missing required key 'init'",
        ])
    }

    func testCacheBlock() throws {
        let pipeline = """
        teacher: {path: t}
        data: {train: d.jsonl}
        cache:
          hidden_layers: [0, 2, 2]
          logits: [full, top_k]
          codecs: {hidden: fp8}
          masking: {probability: 0, mask_fraction: 1.5}
          compression_level: 30
          chunk_bytes: 100
        """
        XCTAssertEqual(try violations(pipeline), [
            "cache.hidden_layers[2]: repeats 2 (already at [1])",
            "cache.logits[1]: expected one of full, topk, sampled",
            "cache.masking.probability: must be greater than 0, not 0",
            "cache.masking.mask_fraction: must be at most 1, not 1.5",
            "cache.codecs.hidden: expected one of fp32, fp16, bf16, int8",
            "cache.compression_level: must be at most 22, not 30",
            "cache.chunk_bytes: must be at least 4096, not 100",
        ])
    }

    func testTopLevel() throws {
        XCTAssertEqual(try violations("setting: task_specific\nstudent: []"), [
            "missing required key 'teacher'", "missing required key 'data'",
            "setting: expected one of task-specific, task-agnostic",
            "unknown key 'student' (known: name, setting, teacher, data, cache, training, students, grid, student_finetune, resources)",
        ])
    }

    // MARK: The schema and the Swift types agree

    /// The JSON-like tree of the schema file.
    private func schemaTree() throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.schemaURL)) as? [String: Any])
    }

    private func definition(_ name: String, _ tree: [String: Any]) throws -> [String: Any] {
        try XCTUnwrap((tree["$defs"] as? [String: Any])?[name] as? [String: Any], name)
    }

    private func propertyNames(_ name: String, _ tree: [String: Any]) throws -> Set<String> {
        Set(try XCTUnwrap(try definition(name, tree)["properties"] as? [String: Any], name).keys)
    }

    private func enumValues(_ name: String, _ tree: [String: Any]) throws -> [String] {
        try XCTUnwrap(try definition(name, tree)["enum"] as? [String], name)
    }

    /// The JSON a spec writes, as a tree.
    private func encoded<T: Encodable>(_ value: T) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as? [String: Any])
    }

    /// The node at a `#/…` pointer of the schema file.
    private func node(_ pointer: String, _ tree: [String: Any]) throws -> [String: Any] {
        var here: Any = tree
        for part in pointer.dropFirst(2).split(separator: "/") { here = try XCTUnwrap((here as? [String: Any])?[String(part)], pointer) }
        return try XCTUnwrap(here as? [String: Any], pointer)
    }

    /// The pointer of the object schema a property's block is (following a plain `$ref`).
    private func blockPointer(_ pointer: String, _ tree: [String: Any]) throws -> String {
        let n = try node(pointer, tree)
        if n["properties"] == nil, let ref = n["$ref"] as? String { return try blockPointer(ref, tree) }
        return pointer
    }

    /// The words a property's schema accepts (its `enum`, or its items', through `$ref`s).
    private func enumValues(at pointer: String, _ tree: [String: Any]) throws -> [String]? {
        let n = try node(pointer, tree)
        if let words = n["enum"] as? [String] ?? (n["items"] as? [String: Any])?["enum"] as? [String] { return words }
        return try (n["$ref"] as? String).flatMap { try enumValues(at: $0, tree) }
    }

    /// The train, student and cache blocks are the Swift specs' settings tables: the same keys;
    /// each property's `default` the value `Spec()` writes (none where it writes none); every
    /// value a spec with each setting changed writes is accepted; an enum is the setting's choices.
    func testBlocksAreTheSettingsTables() throws {
        let tree = try schemaTree()
        let schema = try schema()
        var train = TrainSpec()
        train.tedFilters = "filters.safetensors"; train.objectives = [.kd: 0.5, .ted: 1]; train.hiddenMapping = try LayerMapping(parsing: "1:2")
        train.student.hiddenSize = 384; train.student.heads = 12; train.student.intermediateSize = 1536
        train.student.initialization = .teacher(.list([1, 3])); train.student.family = "distilbert"
        train.student.tokenizer = "models/student-tokenizer"; train.pooling = .first; train.precision = .bf16
        var cache = CacheSpec()
        cache.hiddenLayers = [0, 3]; cache.attentionLayers = [3]; cache.relationLayers = [3]; cache.logits = [.full, .topk]; cache.precision = .bf16
        let blocks: [(pointer: String, leaves: [SettingLeaf], keys: [String], defaults: [String: Any], changed: [String: Any])] = [
            ("#/$defs/trainSpec", TrainSpec.settings.leaves, TrainSpec.settings.keys, try encoded(TrainSpec()), try encoded(train)),
            ("#/$defs/cacheSpec", CacheSpec.settings.leaves, CacheSpec.settings.keys, try encoded(CacheSpec()), try encoded(cache)),
        ]
        for block in blocks {
            XCTAssertEqual(Set(try XCTUnwrap(try node(block.pointer, tree)["properties"] as? [String: Any]).keys), Set(block.keys), block.pointer)
            var nestedKeys: [String: Set<String>] = [:]
            for leaf in block.leaves {
                let path = leaf.path.split(separator: ".").map(String.init)
                var object = block.pointer
                var defaults: Any? = block.defaults, changed: Any? = block.changed
                for outer in path.dropLast() {
                    object = try blockPointer("\(object)/properties/\(outer)", tree)
                    defaults = (defaults as? [String: Any])?[outer]; changed = (changed as? [String: Any])?[outer]
                    nestedKeys[object, default: []].insert(path.last!)
                }
                let property = "\(object)/properties/\(path.last!)"
                let stated = try node(property, tree)["default"]
                let written = (defaults as? [String: Any])?[path.last!]
                switch (stated, written) {
                case (nil, nil): break
                case let (stated?, written?): XCTAssertTrue((stated as? NSObject)?.isEqual(written) == true, "\(property): default \(stated), Swift writes \(written)")
                default: XCTFail("\(property): default \(stated.map { "\($0)" } ?? "none"), Swift writes \(written.map { "\($0)" } ?? "nothing")")
                }
                if let value = (changed as? [String: Any])?[path.last!] {
                    XCTAssertEqual(try schema.validate(value, against: property).map(\.description), [], "\(property) refuses \(value)")
                } else {
                    XCTFail("\(leaf.path): the changed spec writes no value to check")
                }
                XCTAssertEqual(try enumValues(at: property, tree), leaf.choices.map { $0 }, property)
            }
            for (object, keys) in nestedKeys {
                XCTAssertEqual(Set(try XCTUnwrap(try node(object, tree)["properties"] as? [String: Any]).keys), keys, object)
            }
        }
        XCTAssertEqual(try propertyNames("namedStudent", tree), Set(TrainSpec.settings.keys).union(["name"]))
        XCTAssertEqual(try propertyNames("objectiveWeights", tree), Set(ObjectiveKind.allCases.map(\.rawValue)))
    }

    func testEnumsAreTheSwiftEnums() throws {
        let tree = try schemaTree()
        XCTAssertEqual(try enumValues("tensorCodec", tree), TensorCodec.allCases.map(\.rawValue))
        let data = try XCTUnwrap(try definition("data", tree)["properties"] as? [String: [String: Any]])
        XCTAssertEqual(data["format"]?["enum"] as? [String], DatasetFormat.allCases.map(\.rawValue))
    }

    /// Every string form the schema accepts for a mapping or an initialisation, the Swift parser
    /// reads; the schema refuses what the parser refuses, and is stricter about stray commas
    /// (which the parser skips).
    func testMappingAndInitFormsAreTheParsersForms() throws {
        let schema = try schema()
        func accepted(_ value: Any, _ def: String) throws -> Bool { try schema.validate(value, against: "#/$defs/\(def)").isEmpty }
        for text in ["uniform", "last", "1:2", "1:2,2:4", " 1 : 2 , 2:4 ", "0:0"] {
            XCTAssertTrue(try accepted(text, "layerMapping"), text)
            XCTAssertNoThrow(try LayerMapping(parsing: text), text)
        }
        for text in ["lower", "1:", "a:b", "1:2:3", ""] {
            XCTAssertFalse(try accepted(text, "layerMapping"), text)
            XCTAssertThrowsError(try LayerMapping(parsing: text), text)
        }
        for text in ["random", "lower", "upper", "uniform", "1,3,5", " 2 , 4 ", "6"] {
            XCTAssertTrue(try accepted(text, "initialization"), text)
            XCTAssertNoThrow(try StudentSpec.Initialization(parsing: text), text)
        }
        for text in ["last", "1;3", "", "x"] {
            XCTAssertFalse(try accepted(text, "initialization"), text)
            XCTAssertThrowsError(try StudentSpec.Initialization(parsing: text), text)
        }
        XCTAssertFalse(try accepted("1:2,", "layerMapping"))
        XCTAssertFalse(try accepted("1,,3", "initialization"))
    }

    /// The two fixtures set every key the schema names somewhere, so that "it validates" covers them all.
    func testFixturesCoverEveryKey() throws {
        var used = Set<String>()
        func collect(_ value: Any) {
            if let o = value as? [String: Any] { for (k, v) in o { used.insert(k); collect(v) } }
            if let a = value as? [Any] { a.forEach(collect) }
        }
        for name in ["every-key.yaml", "task-agnostic-grid.yaml"] { collect(try loadYAMLAsJSON(Self.fixtures.appendingPathComponent(name))) }
        var named = Set<String>()
        func properties(_ value: Any) {
            if let o = value as? [String: Any] {
                if let p = o["properties"] as? [String: Any] { named.formUnion(p.keys) }
                o.values.forEach(properties)
            }
            if let a = value as? [Any] { a.forEach(properties) }
        }
        properties(try schemaTree())
        XCTAssertEqual(named.subtracting(used).sorted(), [])
    }
}

/// The documents the pipeline tests check, each with the part of the schema it is checked against.
enum PipelineDocuments {
    struct Document {
        var name: String
        var value: Any
        /// `#` for a whole pipeline, `#/$defs/...` for a block checked on its own.
        var ref: String
    }

    /// The files of pipelines/ whose top level has `students:` or `grid:`. A student list (the
    /// format of `distillery train --students`: only `train:` defaults and `students:`) is not a
    /// pipeline; its `train:` block is checked as a train spec and each student as a pipeline's student.
    static func shipped() throws -> [Document] {
        let folder = packageRoot.appendingPathComponent("pipelines")
        var documents: [Document] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() where file.hasSuffix(".yaml") || file.hasSuffix(".yml") {
            guard let top = try loadYAMLAsJSON(folder.appendingPathComponent(file)) as? [String: Any],
                  top["students"] != nil || top["grid"] != nil else { continue }
            if Set(top.keys).isSubset(of: ["train", "students"]) {
                if let train = top["train"] { documents.append(Document(name: "\(file) train", value: train, ref: "#/$defs/trainSpec")) }
                for (i, student) in (top["students"] as? [Any] ?? []).enumerated() {
                    documents.append(Document(name: "\(file) students[\(i)]", value: student, ref: "#/$defs/namedStudent"))
                }
            } else {
                documents.append(Document(name: file, value: top, ref: "#"))
            }
        }
        return documents
    }

    /// The first ```yaml block of docs/pipelines.md.
    static func documentedExample() throws -> Any {
        let doc = try String(contentsOf: packageRoot.appendingPathComponent("docs/pipelines.md"), encoding: .utf8)
        guard let start = doc.range(of: "```yaml\n"), let end = doc.range(of: "\n```", range: start.upperBound..<doc.endIndex) else {
            throw SchemaError.invalidYAML("docs/pipelines.md has no ```yaml block")
        }
        let lines = doc[start.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        return try loadYAMLAsJSON(string: lines.joined(separator: "\n"))
    }
}
