import Distillation
import Foundation
import TeacherCache
import XCTest

/// The encoded train and cache specs, byte for byte. A run's hash covers the train spec and the
/// cache's spec (sorted-key JSON), and cache provenance stores the cache spec: a change to these
/// bytes makes every finished run look unfinished and every cache look different. The goldens
/// were written by the hand-written coders the settings tables replaced.
final class SpecEncodingTests: XCTestCase {
    private func sortedJSON<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static let defaultTrain = #"{"attention_mapping":"last","batch_size":32,"checkpoint_every":200,"clip_norm":1,"data_seed":0,"epochs":3,"eval_every":0,"hidden_mapping":"uniform","learning_rate":0.0001,"log_every":10,"max_steps":0,"objectives":{"kd":1},"relation_heads":12,"relation_mapping":"last","scale_by_temperature_squared":true,"schedule":"linear","seed":0,"student":{"dropout":0.1,"init":"lower","layers":3},"ted_mapping":"uniform","temperature":2,"topk_tail":"ghost","warmup_ratio":0.1,"weight_decay":0.01}"#

    static let customTrain = #"{"attention_mapping":"uniform","batch_size":17,"checkpoint_every":0,"clip_norm":0,"data_seed":18446744073709551615,"epochs":7,"eval_every":50,"hidden_mapping":"1:2,2:4","learning_rate":3e-05,"log_every":1,"max_steps":1000,"objectives":{"ce":0.25,"hidden_mse":1,"kd":0.5,"ted":2},"relation_heads":24,"relation_mapping":"3:6","scale_by_temperature_squared":false,"schedule":"cosine","seed":42,"student":{"dropout":0.2,"heads":6,"hidden_size":384,"init":"1,3,5,7","intermediate_size":1536,"layers":4},"ted_filters":"ted.safetensors","ted_mapping":"last","temperature":4.5,"topk_tail":"renormalized","warmup_ratio":0.06,"weight_decay":0.1}"#

    static let defaultCache = #"{"attention_layers":[],"batch_size":32,"chunk_bytes":1048576,"codecs":{"attention":"fp16","hidden":"fp16","logits":"fp32","relations":"fp16"},"commit_every":2048,"compression":"zstd","compression_level":1,"hidden_layers":[],"logits":[],"mask_views":1,"masking":{"mask_fraction":0.8,"probability":0.15,"random_fraction":0.1,"seed":0},"max_length":128,"relation_layers":[],"sampled_draws":50,"sampled_temperature":1,"seed":0,"top_k":20}"#

    static let customCache = #"{"attention_layers":[6],"batch_size":8,"chunk_bytes":65536,"codecs":{"attention":"bf16","hidden":"int8","logits":"fp16","relations":"fp32"},"commit_every":100,"compression":"gzip","compression_level":6,"hidden_layers":[0,3,6],"logits":["full","topk","sampled"],"mask_views":2,"masking":{"mask_fraction":0.7,"probability":0.2,"random_fraction":0.2,"seed":9},"max_length":64,"relation_layers":[5,6],"sampled_draws":7,"sampled_temperature":1.5,"seed":9,"top_k":5}"#

    /// Every setting away from its default.
    static func customTrainSpec() throws -> TrainSpec {
        var t = TrainSpec()
        t.student.layers = 4; t.student.hiddenSize = 384; t.student.heads = 6; t.student.intermediateSize = 1536
        t.student.initialization = .teacher(.list([1, 3, 5, 7])); t.student.dropout = 0.2
        t.objectives = [.kd: 0.5, .ce: 0.25, .hiddenMSE: 1, .ted: 2]; t.temperature = 4.5; t.scaleByTemperatureSquared = false
        t.topkTail = .renormalized; t.relationHeads = 24; t.hiddenMapping = try LayerMapping(parsing: "1:2,2:4")
        t.attentionMapping = .uniform; t.relationMapping = try LayerMapping(parsing: "3:6"); t.tedFilters = "ted.safetensors"
        t.tedMapping = .last; t.epochs = 7; t.maxSteps = 1000; t.batchSize = 17; t.learningRate = 3e-5; t.warmupRatio = 0.06
        t.schedule = .cosine; t.weightDecay = 0.1; t.clipNorm = 0; t.seed = 42; t.dataSeed = 18_446_744_073_709_551_615
        t.checkpointEvery = 0; t.evalEvery = 50; t.logEvery = 1
        return t
    }

    static func customCacheSpec() -> CacheSpec {
        var c = CacheSpec()
        c.maxLength = 64; c.batchSize = 8; c.hiddenLayers = [0, 3, 6]; c.attentionLayers = [6]; c.relationLayers = [5, 6]
        c.logits = [.full, .topk, .sampled]; c.topK = 5; c.sampledDraws = 7; c.sampledTemperature = 1.5; c.seed = 9
        c.masking = MaskingOptions(probability: 0.2, maskFraction: 0.7, randomFraction: 0.2, seed: 9); c.maskViews = 2
        c.codecs.hidden = .int8; c.codecs.attention = .bf16; c.codecs.relations = .fp32; c.codecs.logits = .fp16
        c.compression = .gzip; c.compressionLevel = 6; c.chunkBytes = 65536; c.commitEvery = 100
        return c
    }

    func testTrainSpecEncodesAsBefore() throws {
        XCTAssertEqual(try sortedJSON(TrainSpec()), Self.defaultTrain)
        XCTAssertEqual(try sortedJSON(try Self.customTrainSpec()), Self.customTrain)
    }

    func testCacheSpecEncodesAsBefore() throws {
        XCTAssertEqual(try sortedJSON(CacheSpec()), Self.defaultCache)
        XCTAssertEqual(try sortedJSON(Self.customCacheSpec()), Self.customCache)
    }

    /// What is written reads back as the same spec; an empty block is the defaults.
    func testSpecsReadBackWhatTheyWrite() throws {
        XCTAssertEqual(try JSONDecoder().decode(TrainSpec.self, from: Data(Self.customTrain.utf8)), try Self.customTrainSpec())
        XCTAssertEqual(try JSONDecoder().decode(TrainSpec.self, from: Data(Self.defaultTrain.utf8)), TrainSpec())
        XCTAssertEqual(try JSONDecoder().decode(TrainSpec.self, from: Data("{}".utf8)), TrainSpec())
        XCTAssertEqual(try JSONDecoder().decode(CacheSpec.self, from: Data(Self.customCache.utf8)), Self.customCacheSpec())
        XCTAssertEqual(try JSONDecoder().decode(CacheSpec.self, from: Data("{}".utf8)), CacheSpec())
    }

    /// Unknown keys: refused with the known ones listed (train, student, cache), passed over inside
    /// `masking:` and `codecs:` as they always were.
    func testUnknownKeys() throws {
        func message<T: Decodable>(_ type: T.Type, _ json: String) -> String {
            do { _ = try JSONDecoder().decode(type, from: Data(json.utf8)); return "decoded" } catch { return "\(error)" }
        }
        XCTAssertEqual(message(TrainSpec.self, #"{"epochz": 3}"#), "invalid training spec: unknown key 'epochz' (known: student, objectives, temperature, scale_by_temperature_squared, topk_tail, relation_heads, hidden_mapping, attention_mapping, relation_mapping, epochs, ted_filters, ted_mapping, max_steps, batch_size, learning_rate, warmup_ratio, schedule, weight_decay, clip_norm, seed, data_seed, checkpoint_every, eval_every, log_every, pooling, precision)")
        XCTAssertEqual(message(TrainSpec.self, #"{"student": {"layer": 3}}"#), "invalid training spec: unknown key 'layer' (known: layers, hidden_size, heads, intermediate_size, init, dropout, family, tokenizer)")
        XCTAssertEqual(message(CacheSpec.self, #"{"hiden_layers": [1]}"#), "invalid cache spec: unknown key 'hiden_layers' (known: max_length, batch_size, hidden_layers, attention_layers, relation_layers, logits, top_k, sampled_draws, sampled_temperature, seed, masking, mask_views, codecs, compression, compression_level, chunk_bytes, commit_every, precision)")
        XCTAssertEqual(message(CacheSpec.self, #"{"masking": {"probabilty": 0.2}, "codecs": {"hiden": "int8"}}"#), "decoded")
    }

    /// The checks of single settings keep their messages; unset optionals are not checked.
    func testValidationMessages() throws {
        func problem(_ change: (inout TrainSpec) -> Void) -> String {
            var spec = TrainSpec()
            change(&spec)
            do { try spec.validate(); return "valid" } catch { return "\(error)" }
        }
        XCTAssertEqual(problem { _ in }, "valid")
        XCTAssertEqual(problem { $0.temperature = 0 }, "invalid training spec: temperature must be positive, not 0.0")
        XCTAssertEqual(problem { $0.objectives = [:] }, "invalid training spec: no objective has a positive weight")
        XCTAssertEqual(problem { $0.warmupRatio = 1 }, "invalid training spec: warmup ratio must be in [0, 1)")
        XCTAssertEqual(problem { $0.clipNorm = -1 }, "invalid training spec: weight decay and clip norm must be ≥ 0")
        XCTAssertEqual(problem { $0.epochs = 0 }, "invalid training spec: set epochs ≥ 1 or max_steps ≥ 1")
        XCTAssertEqual(problem { $0.student.heads = 0 }, "invalid training spec: student heads must be positive")
        XCTAssertEqual(problem { $0.student.dropout = 1 }, "invalid training spec: dropout must be in [0, 1)")
        XCTAssertEqual(problem { $0.objectives = [.ted: 1] }, "invalid training spec: the ted objective needs ted_filters (--ted-filters), the file `distillery ted-filters` writes")
    }

    /// A flag's help is the setting's help with the default the spec holds.
    func testHelpStatesTheDefault() {
        XCTAssertEqual(TrainSpec.settings.help("temperature"), "Softmax temperature of logit KD (default 2).")
        XCTAssertEqual(TrainSpec.settings.help("scale_by_temperature_squared"), "Scale logit KD by τ² (default on).")
        XCTAssertEqual(TrainSpec.settings.help("topk_tail"), "Top-k KD tail: renormalized or ghost (default ghost).")
        XCTAssertEqual(TrainSpec.settings.help("learning_rate"), "Peak learning rate (default 0.0001).")
        XCTAssertEqual(TrainSpec.settings.help("student.init"), "Initialisation: random, or teacher layers lower, upper, uniform, or a list like 1,3,5 (default lower).")
        XCTAssertEqual(TrainSpec.settings.help("student.heads"), "Student attention heads (default: the teacher's).")
        XCTAssertEqual(TrainSpec.settings.help("ted_filters"), "TED teacher filters written by `distillery ted-filters` (for the ted objective).")
        XCTAssertEqual(TrainSpec.settings.help("objectives", usage: "name=weight"), "Objective weights (the loss is Σ weight · loss), name=weight (default kd=1).")
        XCTAssertEqual(CacheSpec.settings.help("chunk_bytes"), "Uncompressed bytes per chunk (default 1 MiB).")
        XCTAssertEqual(CacheSpec.settings.help("hidden_layers"), "Hidden-state layers to store (0 = embeddings output) (default none).")
        XCTAssertEqual(CacheSpec.settings.help("masking.probability"), "Masked-LM teachers: fraction of tokens masked (default 0.15).")
        XCTAssertEqual(CacheSpec.settings.help("codecs.logits", listingChoices: false), "Codec of logits, full and top-k log-probabilities (default fp32).")
    }
}
