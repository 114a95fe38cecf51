import CYaml
import Foundation
import Yams

/// YAML from files we did not write (pipelines, specs, student lists) with bounded cost, composed
/// by Yams only after a streaming pass over libyaml's events has checked three limits:
/// - `maxBytes` of text (1 MiB; a pipeline file is a few KiB);
/// - `maxDepth` nested collections (64): Yams composes recursively, so lists nested 5,000 deep
///   would overflow the stack;
/// - `maxNodes` nodes once every alias is expanded (100,000): "billion laughs" — nine levels of
///   anchors, each a list of nine aliases of the one before — is 1 KB of text and 387 million
///   nodes, which every later step (conversion, decoding) would build.
/// The pass keeps a stack of counters, not a tree, so it costs O(text) in time and O(depth) in memory.
public enum BoundedYAML {
    public static let maxBytes = 1 << 20
    public static let maxDepth = 64
    public static let maxNodes = 100_000

    public enum Failure: Error, CustomStringConvertible, Equatable {
        /// Over a limit: which one, where.
        case tooLarge(String)
        /// Not YAML (Yams' message).
        case invalid(String)
        public var description: String {
            switch self { case .tooLarge(let why), .invalid(let why): return why }
        }
    }

    /// The text of `url`, refused by size before it is read whole.
    public static func read(_ url: URL) throws -> String {
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        if size > maxBytes { throw Failure.tooLarge("\(url.path): \(size) bytes; a YAML file here is at most \(maxBytes) bytes") }
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// The single document of `text` (nil when empty), after the limits are checked; errors start with `origin`.
    public static func compose(_ text: String, origin: String) throws -> Yams.Node? {
        try check(text, origin: origin)
        do { return try Yams.compose(yaml: text) } catch { throw Failure.invalid("\(origin): \(error)") }
    }

    /// Checks the limits; a syntax error is left for Yams to report with its context.
    public static func check(_ text: String, origin: String) throws {
        let bytes = Array(text.utf8)
        if bytes.count > maxBytes { throw Failure.tooLarge("\(origin): \(bytes.count) bytes; a YAML file here is at most \(maxBytes) bytes") }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw Failure.invalid("\(origin): cannot start the YAML parser") }
        defer { yaml_parser_delete(&parser) }
        try bytes.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var counter = NodeCounter(origin: origin)
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { return }
                try counter.count(event)
            }
        }
    }

    /// Expanded node counts per open collection and per anchor.
    struct NodeCounter {
        let origin: String
        /// Expanded size of each open collection so far (1 for itself), innermost last.
        var open: [Int] = []
        /// Anchor of each open collection.
        var openAnchors: [String?] = []
        var anchorSizes: [String: Int] = [:]
        var total = 0

        mutating func count(_ event: yaml_event_t) throws {
            let line = event.start_mark.line + 1
            switch event.type {
            case YAML_SCALAR_EVENT:
                if let anchor = Self.string(event.data.scalar.anchor) { anchorSizes[anchor] = 1 }
                try add(1, line: line)
            case YAML_ALIAS_EVENT:
                try add(Self.string(event.data.alias.anchor).flatMap { anchorSizes[$0] } ?? 1, line: line)
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                if open.count >= BoundedYAML.maxDepth {
                    throw Failure.tooLarge("\(origin): line \(line): collections nested more than \(BoundedYAML.maxDepth) deep")
                }
                let anchor = Self.string(event.type == YAML_SEQUENCE_START_EVENT ? event.data.sequence_start.anchor : event.data.mapping_start.anchor)
                open.append(1)
                openAnchors.append(anchor)
                try add(0, line: line, itself: true)
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let size = open.popLast(), let anchor = openAnchors.popLast() else { return }
                if let anchor { anchorSizes[anchor] = size }
                if !open.isEmpty { open[open.count - 1] += size }
            default:
                return
            }
        }

        /// Counts `size` expanded nodes (or the collection just opened) against the limit.
        mutating func add(_ size: Int, line: Int, itself: Bool = false) throws {
            total += itself ? 1 : size
            if !itself, !open.isEmpty { open[open.count - 1] += size }
            if total > BoundedYAML.maxNodes {
                throw Failure.tooLarge("\(origin): line \(line): more than \(BoundedYAML.maxNodes) values once aliases (*name) are expanded; a file here is at most that")
            }
        }

        static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            pointer.map { String(cString: $0) }
        }
    }
}
