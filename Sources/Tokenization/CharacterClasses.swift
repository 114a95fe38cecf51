// The character classes of Hugging Face's BERT tokenizer (transformers `_is_control`,
// `_is_whitespace`, `_is_punctuation`, `_is_chinese_char`), decided per Unicode scalar as
// Python decides per code point.

/// What text cleaning does with one scalar.
enum CleaningClass {
    case drop, space, chinese, keep
}

enum CharacterClasses {
    /// The fixtures come from Python 3.11, whose `unicodedata` is Unicode 14.0. A scalar assigned
    /// later is category Cn there, so HF drops it as a control; Swift knows newer versions and
    /// would keep it, hence the explicit gate.
    static let unicodeVersion = (major: 14, minor: 0)

    /// Cleaning: NUL, U+FFFD and categories C* go (tab, newline and carriage return are
    /// whitespace); Zs becomes a space. Zl and Zp are kept by HF's cleaning but then split on by
    /// Python's `str.split()`, which is the same as a space here.
    static func cleaning(_ scalar: Unicode.Scalar, splitChinese: Bool) -> CleaningClass {
        let value = scalar.value
        if value < 0x80 {
            switch value {
            case 9, 10, 13, 32: return .space
            case 0..<32, 127: return .drop
            default: return .keep
            }
        }
        if value == 0xFFFD { return .drop }
        let properties = scalar.properties
        guard let age = properties.age,
              age.major < unicodeVersion.major
                || (age.major == unicodeVersion.major && age.minor <= unicodeVersion.minor)
        else { return .drop }
        switch properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned:
            return .drop
        case .spaceSeparator, .lineSeparator, .paragraphSeparator:
            return .space
        default:
            return splitChinese && isChinese(value) ? .chinese : .keep
        }
    }

    /// ASCII 33–47, 58–64, 91–96, 123–126 (all non-alphanumeric printable ASCII) and Unicode P*.
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 { return isASCIIPunctuation(UInt8(truncatingIfNeeded: value)) }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    @inline(__always)
    static func isASCIIPunctuation(_ byte: UInt8) -> Bool {
        (33...47).contains(byte) || (58...64).contains(byte) || (91...96).contains(byte) || (123...126).contains(byte)
    }

    /// The CJK Unified Ideographs blocks HF isolates (not Hangul, Hiragana or Katakana).
    static func isChinese(_ value: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(value) || (0x3400...0x4DBF).contains(value)
            || (0x20000...0x2A6DF).contains(value) || (0x2A700...0x2B73F).contains(value)
            || (0x2B740...0x2B81F).contains(value) || (0x2B820...0x2CEAF).contains(value)
            || (0xF900...0xFAFF).contains(value) || (0x2F800...0x2FA1F).contains(value)
    }
}
