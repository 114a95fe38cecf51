import Foundation

/// One setting of a spec, declared once: its snake_case key, the property it fills, what it means,
/// its command-line flag, and the check of its value on its own. The spec's default comes from
/// `Spec()` (the property's initial value). Decoding, encoding, per-key validation and the help
/// text of the flag all come from the spec's table of these (`SettingsTable`).
///
///     Setting("temperature", \.temperature, help: "Softmax temperature of logit KD",
///             check: { $0 > 0 ? nil : "temperature must be positive, not \($0)" })
///
/// (Unchecked Sendable: a setting is immutable, and its closures capture only key paths, strings
/// and the checks written in the table, which keep no state.)
public struct Setting<Spec>: @unchecked Sendable {
    /// The YAML/JSON key.
    public let key: String
    /// What the setting means, one phrase without a final period (the flag's help starts with it).
    public let help: String
    /// The `--flag` that sets it, or nil where the setting is YAML-only or a block of settings.
    public let flag: String?
    /// The words an enum setting accepts, in declaration order.
    public let choices: [String]?
    /// The settings of a nested block (`student:`, `codecs:`), or nil for a value.
    public let block: [SettingLeaf]?
    /// How help states the default where the value itself would not say it well ("1 MiB").
    let shownDefault: String?

    let decode: (inout Spec, KeyedDecodingContainer<SettingKey>) throws -> Void
    let encode: (Spec, inout KeyedEncodingContainer<SettingKey>) throws -> Void
    /// Why the spec's value is not allowed, or nil.
    let problem: (Spec) -> String?
    /// The spec's value as help states it, or nil when there is none (an optional left out).
    let shown: (Spec) -> String?

    private init(key: String, help: String, flag: String?, yamlOnly: Bool, choices: [String]?, block: [SettingLeaf]? = nil, shownDefault: String?,
                 decode: @escaping (inout Spec, KeyedDecodingContainer<SettingKey>) throws -> Void,
                 encode: @escaping (Spec, inout KeyedEncodingContainer<SettingKey>) throws -> Void,
                 problem: @escaping (Spec) -> String?, shown: @escaping (Spec) -> String?) {
        self.key = key
        self.help = help
        self.flag = yamlOnly || block != nil ? nil : flag ?? key.replacingOccurrences(of: "_", with: "-")
        self.choices = choices
        self.block = block
        self.shownDefault = shownDefault
        self.decode = decode
        self.encode = encode
        self.problem = problem
        self.shown = shown
    }

    /// A value written as it is. `flag` names the flag when it is not the key in kebab-case;
    /// `yamlOnly` says there is none.
    public init<V: Codable>(_ key: String, _ path: WritableKeyPath<Spec, V>, flag: String? = nil, yamlOnly: Bool = false,
                            help: String, shown: String? = nil, check: ((V) -> String?)? = nil) {
        self.init(key: key, path, flag: flag, yamlOnly: yamlOnly, choices: nil, help: help, shown: shown, check: check)
    }

    /// An enum value: its cases are the setting's choices.
    public init<V: Codable & CaseIterable & RawRepresentable>(_ key: String, _ path: WritableKeyPath<Spec, V>, flag: String? = nil, yamlOnly: Bool = false,
                                                              help: String, shown: String? = nil, check: ((V) -> String?)? = nil) where V.RawValue == String {
        self.init(key: key, path, flag: flag, yamlOnly: yamlOnly, choices: V.allCases.map(\.rawValue), help: help, shown: shown, check: check)
    }

    /// A list of enum values: the enum's cases are the setting's choices.
    public init<E: Codable & CaseIterable & RawRepresentable>(_ key: String, _ path: WritableKeyPath<Spec, [E]>, flag: String? = nil, yamlOnly: Bool = false,
                                                              help: String, shown: String? = nil, check: (([E]) -> String?)? = nil) where E.RawValue == String {
        self.init(key: key, path, flag: flag, yamlOnly: yamlOnly, choices: E.allCases.map(\.rawValue), help: help, shown: shown, check: check)
    }

    private init<V: Codable>(key: String, _ path: WritableKeyPath<Spec, V>, flag: String?, yamlOnly: Bool, choices: [String]?,
                             help: String, shown: String?, check: ((V) -> String?)?) {
        // An optional written through here would be written as null when unset.
        precondition(!(V.self is OptionalValue.Type), "setting '\(key)' is optional: declare it with Setting(_:optional:…)")
        self.init(key: key, help: help, flag: flag, yamlOnly: yamlOnly, choices: choices, shownDefault: shown,
                  decode: { spec, c in if let v = try c.decodeIfPresent(V.self, forKey: SettingKey(key)) { spec[keyPath: path] = v } },
                  encode: { spec, c in try c.encode(spec[keyPath: path], forKey: SettingKey(key)) },
                  problem: { spec in check?(spec[keyPath: path]) },
                  shown: { spec in showing(spec[keyPath: path]) })
    }

    /// An optional value: written only when set, checked only when set; `choices` lists the
    /// values it may take when they are not an enum's cases (the schema's `enum` is held to them).
    public init<V: Codable>(_ key: String, optional path: WritableKeyPath<Spec, V?>, flag: String? = nil, yamlOnly: Bool = false,
                            choices: [String]? = nil, help: String, shown: String? = nil, check: ((V) -> String?)? = nil) {
        self.init(key: key, help: help, flag: flag, yamlOnly: yamlOnly, choices: choices, shownDefault: shown,
                  decode: { spec, c in if let v = try c.decodeIfPresent(V.self, forKey: SettingKey(key)) { spec[keyPath: path] = v } },
                  encode: { spec, c in try c.encodeIfPresent(spec[keyPath: path], forKey: SettingKey(key)) },
                  problem: { spec in spec[keyPath: path].flatMap { check?($0) } },
                  shown: { spec in spec[keyPath: path].flatMap(showing) })
    }

    /// A value written in another form `Coded` (a map keyed by enum names as a map of strings):
    /// `read` turns the written form into the value (and may refuse it), `write` back.
    public init<V, Coded: Codable>(_ key: String, _ path: WritableKeyPath<Spec, V>, coded: Coded.Type, read: @escaping (Coded) throws -> V,
                                   write: @escaping (V) -> Coded, flag: String? = nil, help: String, shown: String? = nil,
                                   check: ((V) -> String?)? = nil) {
        self.init(key: key, help: help, flag: flag, yamlOnly: false, choices: nil, shownDefault: shown,
                  decode: { spec, c in if let v = try c.decodeIfPresent(Coded.self, forKey: SettingKey(key)) { spec[keyPath: path] = try read(v) } },
                  encode: { spec, c in try c.encode(write(spec[keyPath: path]), forKey: SettingKey(key)) },
                  problem: { spec in check?(spec[keyPath: path]) },
                  shown: { spec in showing(write(spec[keyPath: path])) })
    }

    /// A nested block with a table of its own (`student:`): decoded, encoded and validated by its
    /// own type; no flag of its own (its settings have theirs).
    public static func block<V: HasSettings>(_ key: String, _ path: WritableKeyPath<Spec, V>, help: String) -> Setting {
        Setting(key: key, help: help, flag: nil, yamlOnly: true, choices: nil, block: V.settings.leaves, shownDefault: nil,
                decode: { spec, c in if let v = try c.decodeIfPresent(V.self, forKey: SettingKey(key)) { spec[keyPath: path] = v } },
                encode: { spec, c in try c.encode(spec[keyPath: path], forKey: SettingKey(key)) },
                problem: { _ in nil }, shown: { _ in nil })
    }
}

/// A spec whose keys are a `SettingsTable`.
public protocol HasSettings: Codable {
    static var settings: SettingsTable<Self> { get }
}

/// One setting as a reader of the table sees it, nested blocks flattened: `path` is the key, or
/// `block.key` inside a block. What tests and help use.
public struct SettingLeaf: Sendable {
    public let path: String
    public let help: String
    public let flag: String?
    public let choices: [String]?
    /// The default as help states it, or nil where it has none.
    public let shownDefault: String?

    /// The help of the flag: what it means, the choices (unless the flag's type lists them itself),
    /// `usage` (how the flag is written, where it says more than the key's YAML form), the default.
    /// "Softmax temperature of logit KD (default 2)."
    public func flagHelp(usage: String? = nil, listingChoices: Bool = true) -> String {
        var text = help
        if listingChoices, let choices { text += ": " + spoken(choices) }
        if let usage { text += ", " + usage }
        if let phrase = defaultPhrase { text += " " + phrase }
        return text + "."
    }

    /// "(default 2)", or nil.
    public var defaultPhrase: String? { shownDefault.map { "(default \($0))" } }
}

/// The settings of one spec, in the order they are written.
public struct SettingsTable<Spec>: @unchecked Sendable {
    public let settings: [Setting<Spec>]
    let defaults: Spec
    let invalid: (String) -> Error
    let refusesUnknownKeys: Bool

    /// `defaults` is `Spec()`; `invalid` makes a problem into the spec's error. A block that
    /// tolerates keys it does not know (as it always has) says `refusesUnknownKeys: false`.
    public init(defaults: Spec, invalid: @escaping (String) -> Error, refusesUnknownKeys: Bool = true, _ settings: [Setting<Spec>]) {
        self.settings = settings
        self.defaults = defaults
        self.invalid = invalid
        self.refusesUnknownKeys = refusesUnknownKeys
    }

    public var keys: [String] { settings.map(\.key) }

    /// The defaults with every key present in the decoder's mapping laid over them; a key the
    /// table does not know is refused (a typo would otherwise silently take the default).
    public func decode(from decoder: Decoder) throws -> Spec {
        let c = try decoder.container(keyedBy: SettingKey.self)
        if refusesUnknownKeys, let unknown = c.allKeys.first(where: { !keys.contains($0.stringValue) }) {
            throw invalid("unknown key '\(unknown.stringValue)' (known: \(keys.joined(separator: ", ")))")
        }
        var spec = defaults
        for setting in settings { try setting.decode(&spec, c) }
        return spec
    }

    /// Every setting in table order (an optional left out is not written).
    public func encode(_ spec: Spec, to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: SettingKey.self)
        for setting in settings { try setting.encode(spec, &c) }
    }

    /// The first setting whose value its check refuses, as the spec's error. Nested blocks and
    /// rules between settings are their owner's to check.
    public func check(_ spec: Spec) throws {
        for setting in settings {
            if let problem = setting.problem(spec) { throw invalid(problem) }
        }
    }

    /// Every setting, blocks flattened to `block.key`.
    public var leaves: [SettingLeaf] {
        settings.flatMap { s -> [SettingLeaf] in
            if let block = s.block {
                return block.map { SettingLeaf(path: "\(s.key).\($0.path)", help: $0.help, flag: $0.flag, choices: $0.choices, shownDefault: $0.shownDefault) }
            }
            return [SettingLeaf(path: s.key, help: s.help, flag: s.flag, choices: s.choices, shownDefault: s.shownDefault ?? s.shown(defaults))]
        }
    }

    /// The setting at `path` (`key` or `block.key`); a path not in the table is a programming error.
    public func leaf(_ path: String) -> SettingLeaf {
        guard let leaf = leaves.first(where: { $0.path == path }) else { preconditionFailure("no setting '\(path)' in the table") }
        return leaf
    }

    /// The help of the flag of `path`, default included: see `SettingLeaf.flagHelp`.
    public func help(_ path: String, usage: String? = nil, listingChoices: Bool = true) -> String {
        leaf(path).flagHelp(usage: usage, listingChoices: listingChoices)
    }
}

/// A coding key of any name: tables read and write string keys, and list the keys a mapping holds.
public struct SettingKey: CodingKey {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(_ name: String) { stringValue = name }
    public init(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
}

/// Optional, whatever it wraps.
private protocol OptionalValue {}
extension Optional: OptionalValue {}

/// "a, b or c".
func spoken(_ words: [String]) -> String {
    words.count < 2 ? words.joined() : words.dropLast().joined(separator: ", ") + " or " + words.last!
}

/// A value as help states it, from its JSON form: numbers as written (2, 0.1, 0.0001), booleans
/// on/off, strings bare, lists comma-separated ("none" when empty), maps as name=value; nil for null.
func showing<V: Encodable>(_ value: V) -> String? {
    guard let data = try? JSONEncoder().encode(value), let json = try? JSONDecoder().decode(JSONForm.self, from: data) else { return nil }
    return json.shown
}

/// JSON as help shows it.
private indirect enum JSONForm: Decodable {
    case null, bool(Bool), number(Double), string(String), list([JSONForm]), map([String: JSONForm])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let l = try? c.decode([JSONForm].self) { self = .list(l) }
        else { self = .map(try c.decode([String: JSONForm].self)) }
    }

    var shown: String? {
        switch self {
        case .null: return nil
        case .bool(let b): return b ? "on" : "off"
        case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : "\(n)"
        case .string(let s): return s
        case .list(let l): return l.isEmpty ? "none" : l.map { $0.shown ?? "null" }.joined(separator: ",")
        case .map(let m): return m.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.shown ?? "null")" }.joined(separator: ",")
        }
    }
}
