import Foundation

/// The normalisers of HF `tokenizers` this package follows (tokenizer.json's "normalizer"), each
/// applied to one stretch of text between added tokens.
indirect enum Normalizer: Sendable {
    case sequence([Normalizer])
    /// SentencePiece's compiled rules (XLM-R: nmt_nfkc).
    case precompiled(PrecompiledCharsmap)
    /// Removes leading / trailing White_Space.
    case strip(left: Bool, right: Bool)
    case replace(ReplacePattern, with: String)
    /// BERT's cleaning, CJK spacing, accent stripping and lower-casing, as the Rust BertNormalizer.
    case bert(BertNormalization)
    case nfc, nfd, nfkc, nfkd
    /// Per scalar, full mapping, no context (Σ is always σ), as Rust's `char::to_lowercase`.
    case lowercase

    func apply(_ text: String) -> String {
        switch self {
        case .sequence(let steps):
            return steps.reduce(text) { $1.apply($0) }
        case .precompiled(let charsmap):
            return charsmap.normalize(text)
        case .strip(let left, let right):
            var scalars = Substring(text).unicodeScalars
            if left { while let first = scalars.first, first.properties.isWhitespace { scalars.removeFirst() } }
            if right { while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() } }
            return String(scalars)
        case .replace(let pattern, let content):
            return pattern.replaceAll(in: text, with: content)
        case .bert(let options):
            return options.apply(text)
        case .nfc:
            return text.precomposedStringWithCanonicalMapping
        case .nfd:
            return text.decomposedStringWithCanonicalMapping
        case .nfkc:
            return text.precomposedStringWithCompatibilityMapping
        case .nfkd:
            return text.decomposedStringWithCompatibilityMapping
        case .lowercase:
            return lowercasedPerScalar(text)
        }
    }
}

/// What a `Replace` normaliser looks for: a literal string, or the one regex shape real
/// tokenizers use (`" {2,}"`: a scalar repeated at least n times). Matches are taken left to
/// right without overlap, compared by exact scalars.
enum ReplacePattern: Sendable, Equatable {
    case literal([Unicode.Scalar])
    case repeated(Unicode.Scalar, atLeast: Int)

    /// Reads `X{n,}`, `X+` or `X`, X one scalar that is no regex syntax (or is escaped ASCII
    /// punctuation, e.g. `\.`); nil for anything else (classes, alternatives, anchors…).
    init?(regex: String) {
        let metacharacters = Set(".^$*+?()[]{}|\\".unicodeScalars)
        var scalars = Array(regex.unicodeScalars)
        guard let first = scalars.first else { return nil }
        if first == "\\" {
            guard scalars.count >= 2, scalars[1].isASCII, CharacterClasses.isASCIIPunctuation(UInt8(scalars[1].value)) else { return nil }
            scalars.removeFirst()
        } else if metacharacters.contains(first) {
            return nil
        }
        let scalar = scalars[0]
        let rest = String(String.UnicodeScalarView(scalars.dropFirst()))
        if rest.isEmpty {
            self = .literal([scalar])
        } else if rest == "+" {
            self = .repeated(scalar, atLeast: 1)
        } else if rest.hasPrefix("{"), rest.hasSuffix(",}"), let n = Int(rest.dropFirst().dropLast(2)), n >= 1 {
            self = .repeated(scalar, atLeast: n)
        } else {
            return nil
        }
    }

    func replaceAll(in text: String, with content: String) -> String {
        let scalars = Array(text.unicodeScalars)
        var output = String.UnicodeScalarView()
        var i = 0
        while i < scalars.count {
            let length = matchLength(scalars, at: i)
            if length > 0 {
                output.append(contentsOf: content.unicodeScalars)
                i += length
            } else {
                output.append(scalars[i])
                i += 1
            }
        }
        return String(output)
    }

    private func matchLength(_ scalars: [Unicode.Scalar], at i: Int) -> Int {
        switch self {
        case .literal(let needle):
            guard !needle.isEmpty, i + needle.count <= scalars.count else { return 0 }
            for k in needle.indices where scalars[i + k] != needle[k] { return 0 }
            return needle.count
        case .repeated(let scalar, let atLeast):
            var j = i
            while j < scalars.count && scalars[j] == scalar { j += 1 }
            return j - i >= atLeast ? j - i : 0
        }
    }
}

/// The Rust BertNormalizer (not transformers' Python BasicTokenizer, which BertTokenizer follows):
/// no NFC first, per-scalar lower-casing without final sigma, accents stripped as NFD minus Mn.
/// Its general categories (controls, Mn, and BertPreTokenizer's punctuation) come from tables of
/// Unicode 8.0: a scalar assigned later is in none of them (`hasRustTableCategory`).
struct BertNormalization: Sendable {
    var cleanText = true
    var handleChineseChars = true
    /// nil follows `lowercase`.
    var stripAccents: Bool?
    var lowercase = true

    func apply(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if cleanText {
                if scalar.value == 0 || scalar.value == 0xFFFD || Self.isControl(scalar) { continue }
                if Self.isWhitespace(scalar) {
                    scalars.append(" ")
                    continue
                }
            }
            if handleChineseChars && CharacterClasses.isChinese(scalar.value) {
                scalars.append(" ")
                scalars.append(scalar)
                scalars.append(" ")
            } else {
                scalars.append(scalar)
            }
        }
        var result = String(scalars)
        if stripAccents ?? lowercase {
            let decomposed = result.decomposedStringWithCanonicalMapping.unicodeScalars
            result = String(String.UnicodeScalarView(decomposed.filter {
                !(Self.hasRustTableCategory($0) && $0.properties.generalCategory == .nonspacingMark)
            }))
        }
        return lowercase ? lowercasedPerScalar(result) : result
    }

    /// Tab, newline and carriage return are whitespace; otherwise categories Cc, Cf, Co, Cs
    /// (unassigned code points are kept, as the Rust tables do).
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 9, 10, 13: return false
        case 0x20..<0x7F: return false
        default: break
        }
        guard hasRustTableCategory(scalar) else { return false }
        switch scalar.properties.generalCategory {
        case .control, .format, .privateUse, .surrogate: return true
        default: return false
        }
    }

    /// ASCII punctuation, or category P* in the Rust tables (BertPreTokenizer's `is_bert_punc`).
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x80 ? CharacterClasses.isASCIIPunctuation(UInt8(scalar.value))
            : hasRustTableCategory(scalar) && CharacterClasses.isPunctuation(scalar)
    }

    /// Whether the scalar was assigned by Unicode 8.0, the version of the `unicode_categories`
    /// tables `tokenizers` decides Mn, C* and P* with (private use and surrogates: always).
    static func hasRustTableCategory(_ scalar: Unicode.Scalar) -> Bool {
        guard let age = scalar.properties.age else { return true }
        return age.major < 8 || (age.major == 8 && age.minor == 0)
    }

    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value == 9 || scalar.value == 10 || scalar.value == 13 || scalar.properties.isWhitespace
    }
}

/// Rust's `char::to_lowercase` per scalar (full mappings such as İ → i̇, no final sigma).
func lowercasedPerScalar(_ text: String) -> String {
    var scalars = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
        if scalar.value < 0x80 {
            scalars.append((0x41...0x5A).contains(scalar.value) ? Unicode.Scalar(scalar.value | 0x20)! : scalar)
        } else if scalar.properties.changesWhenLowercased {
            scalars.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
        } else {
            scalars.append(scalar)
        }
    }
    return String(scalars)
}
