import Foundation
import Objectives
import SafeTensors

/// The teacher filters of TED stage one, as `distillery ted-filters` writes them and the `ted` objective of
/// `distillery train` reads them (safetensors, F32):
///
///     ted.teacher_layer_L.filter.0.weight (F, C)   ted.teacher_layer_L.filter.0.bias (F)
///     ted.teacher_layer_L.filter.2.weight (F, F)   ted.teacher_layer_L.filter.2.bias (F)      mlp only
///     ted.teacher_layer_L.head.pooler.dense.{weight (F, F), bias (F)}
///     ted.teacher_layer_L.head.classifier.{weight (K, F), bias (K)}
///
/// for every filtered teacher hidden layer L, with metadata `ted.layers` ("2,4,6"), `ted.kind` (linear | mlp),
/// `ted.width` (F), `ted.input_width` (C, the teacher's width), `ted.classes` (K), `ted.label_names` (JSON) and
/// `ted.teacher_sha256` (the teacher whose hidden states the filters were trained on).
public struct TedFilterFile: Sendable, Equatable {
    public var kind: TedFilterKind
    public var layers: [Int]
    public var inputWidth: Int, width: Int, classes: Int
    public var labelNames: [String]
    public var teacherSHA256: String
    /// Teacher layer → parameters in TedFilter's layout, and its head's in TedTaskHead's.
    public var filters: [Int: [Float]]
    public var heads: [Int: [Float]]

    public init(kind: TedFilterKind, layers: [Int], inputWidth: Int, width: Int, classes: Int, labelNames: [String],
                teacherSHA256: String, filters: [Int: [Float]], heads: [Int: [Float]]) {
        self.kind = kind; self.layers = layers; self.inputWidth = inputWidth; self.width = width; self.classes = classes
        self.labelNames = labelNames; self.teacherSHA256 = teacherSHA256; self.filters = filters; self.heads = heads
    }

    static func name(layer: Int, _ part: String) -> String { "ted.teacher_layer_\(layer).\(part)" }

    /// Tensor layouts, without buffers.
    var filterTensors: [TedFilter.Tensor] { TedFilter(kind: kind, inputWidth: inputWidth, width: width, maxRows: 0, trainable: false).tensors }
    var headTensors: [TedFilter.Tensor] { TedTaskHead(width: width, classes: classes, maxRows: 0).tensors }

    public func write(to url: URL) throws {
        let labels = (try? String(decoding: JSONEncoder().encode(labelNames), as: UTF8.self)) ?? "[]"
        var writer = SafeTensorsWriter(metadata: [
            "format": "pt", "ted.layers": layers.map(String.init).joined(separator: ","), "ted.kind": kind.rawValue,
            "ted.width": String(width), "ted.input_width": String(inputWidth), "ted.classes": String(classes),
            "ted.label_names": labels, "ted.teacher_sha256": teacherSHA256,
        ])
        do {
            for layer in layers {
                for (part, tensors, values) in [("filter", filterTensors, filters[layer]!), ("head", headTensors, heads[layer]!)] {
                    for t in tensors {
                        try writer.add(Self.name(layer: layer, "\(part).\(t.name)"), shape: t.shape, floats: Array(values[t.offset..<(t.offset + t.count)]))
                    }
                }
            }
            try writer.write(to: url)
        } catch {
            throw DistillationError.io("cannot write the TED filters to \(url.path): \(error)")
        }
    }

    /// Reads a file strictly: the metadata, then every expected tensor at its exact shape and nothing else.
    public static func load(_ url: URL) throws -> TedFilterFile {
        func bad(_ why: String) -> DistillationError { .invalidSpec("\(url.path) is not a TED filter file from `distillery ted-filters`: \(why)") }
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(url: url) } catch { throw DistillationError.io("cannot read the TED filters \(url.path): \(error)") }
        let m = file.metadata
        guard let kindName = m["ted.kind"], let kind = TedFilterKind(rawValue: kindName) else { throw bad("metadata ted.kind is \(m["ted.kind"] ?? "missing")") }
        guard let layerList = m["ted.layers"], case let layers = layerList.split(separator: ",").compactMap({ Int($0) }), !layers.isEmpty,
              layers.count == layerList.split(separator: ",").count else { throw bad("metadata ted.layers is \(m["ted.layers"] ?? "missing")") }
        func number(_ key: String) throws -> Int {
            guard let value = m[key].flatMap(Int.init), value > 0 else { throw bad("metadata \(key) is \(m[key] ?? "missing")") }
            return value
        }
        let labels = m["ted.label_names"].flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? []
        var result = TedFilterFile(kind: kind, layers: layers, inputWidth: try number("ted.input_width"), width: try number("ted.width"),
                                   classes: try number("ted.classes"), labelNames: labels, teacherSHA256: m["ted.teacher_sha256"] ?? "",
                                   filters: [:], heads: [:])
        let filterTensors = result.filterTensors, headTensors = result.headTensors
        var expected = Set<String>()
        do {
            for layer in layers {
                for (part, tensors) in [("filter", filterTensors), ("head", headTensors)] {
                    var values: [Float] = []
                    for t in tensors {
                        let name = name(layer: layer, "\(part).\(t.name)")
                        expected.insert(name)
                        values += try file.floats(name, shape: t.shape)
                    }
                    if part == "filter" { result.filters[layer] = values } else { result.heads[layer] = values }
                }
            }
            try file.checkKeys(expected: expected, harmless: [])
        } catch {
            throw bad("\(error)")
        }
        return result
    }
}
