// GPT-2's byte-level pre-tokenization (RoBERTa, GPT-2, BART): the text is split by GPT-2's regex,
// and each piece's UTF-8 bytes are the BPE model's input. Vocabulary files spell each byte as one
// printable character (`byteLevelCharacters`); the BPE model works on the bytes themselves.

/// The character GPT-2 spells byte `b` with (`bytes_to_unicode`): printable Latin-1 bytes stand for
/// themselves, the other 68 take U+0100 onwards, in byte order.
let byteLevelCharacters: [Unicode.Scalar] = {
    var table = [Unicode.Scalar](repeating: " ", count: 256)
    var next: UInt32 = 256
    for byte in 0..<256 {
        let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
        if printable {
            table[byte] = Unicode.Scalar(UInt8(byte))
        } else {
            table[byte] = Unicode.Scalar(next)!
            next += 1
        }
    }
    return table
}()

/// The bytes a byte-level token spells, or nil when a character is outside the 256 of the table
/// (such tokens, e.g. some added tokens, are never produced by the BPE model).
func bytesOfByteLevelToken(_ token: String) -> [UInt8]? {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(token.unicodeScalars.count)
    for scalar in token.unicodeScalars {
        guard let byte = byteOfByteLevelCharacter[scalar] else { return nil }
        bytes.append(byte)
    }
    return bytes
}

private let byteOfByteLevelCharacter: [Unicode.Scalar: UInt8] = {
    var inverse: [Unicode.Scalar: UInt8] = [:]
    for (byte, scalar) in byteLevelCharacters.enumerated() { inverse[scalar] = UInt8(byte) }
    return inverse
}()

/// The classes GPT-2's regex tells apart: `\p{L}`, `\p{N}`, `\s` (White_Space) and the rest.
enum RegexClass: UInt8 {
    case letter, number, space, other

    static func of(_ value: UInt32) -> RegexClass {
        if value < 0x80 { return asciiClasses[Int(value)] }
        guard let scalar = Unicode.Scalar(value) else { return .other }
        let properties = scalar.properties
        if properties.isWhitespace { return .space }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return .other
        }
    }

    private static let asciiClasses: [RegexClass] = (0..<128).map { value in
        switch UInt8(value) {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): return .letter
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        case 9...13, 32: return .space
        default: return .other
        }
    }
}

/// The scalar starting at `i` of valid UTF-8 (Swift strings always are) and its length in bytes.
@inline(__always)
func decodeScalar(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> (value: UInt32, length: Int) {
    let lead = UInt32(bytes[i])
    if lead < 0x80 { return (lead, 1) }
    if lead < 0xE0 { return ((lead & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F), 2) }
    if lead < 0xF0 {
        return ((lead & 0x0F) << 12 | UInt32(bytes[i + 1] & 0x3F) << 6 | UInt32(bytes[i + 2] & 0x3F), 3)
    }
    return ((lead & 0x07) << 18 | UInt32(bytes[i + 1] & 0x3F) << 12 | UInt32(bytes[i + 2] & 0x3F) << 6
        | UInt32(bytes[i + 3] & 0x3F), 4)
}

/// Calls `body` with the byte range of each match of GPT-2's pattern, in order; together they
/// cover the text. The pattern, tried alternative by alternative at each position as a
/// backtracking engine (Oniguruma, in `tokenizers`) does:
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func forEachGPT2Piece(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
    let end = bytes.count
    /// The end of the run of scalars of class `runClass` starting at `from`, and the start of its last scalar.
    func run(from: Int, of runClass: RegexClass) -> (end: Int, lastStart: Int) {
        var j = from, lastStart = from
        while j < end {
            let (value, length) = decodeScalar(bytes, at: j)
            guard RegexClass.of(value) == runClass else { break }
            lastStart = j
            j += length
        }
        return (j, lastStart)
    }
    var i = 0
    while i < end {
        let value = decodeScalar(bytes, at: i).value
        // 's 't 're 've 'm 'll 'd (case-sensitive)
        if value == 0x27, i + 1 < end {
            let second = bytes[i + 1]
            if [UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d")].contains(second) {
                body(i..<i + 2)
                i += 2
                continue
            }
            if i + 2 < end {
                let pair = (second, bytes[i + 2])
                if pair == (UInt8(ascii: "r"), UInt8(ascii: "e")) || pair == (UInt8(ascii: "v"), UInt8(ascii: "e"))
                    || pair == (UInt8(ascii: "l"), UInt8(ascii: "l")) {
                    body(i..<i + 3)
                    i += 3
                    continue
                }
            }
        }
        let valueClass = RegexClass.of(value)
        // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+' with the optional space
        if value == 0x20, i + 1 < end {
            let nextClass = RegexClass.of(decodeScalar(bytes, at: i + 1).value)
            if nextClass != .space {
                let stop = run(from: i + 1, of: nextClass).end
                body(i..<stop)
                i = stop
                continue
            }
        }
        if valueClass != .space {
            let stop = run(from: i, of: valueClass).end
            body(i..<stop)
            i = stop
            continue
        }
        // '\s+(?!\S)': all the spaces when they end the text, else all but the last (which then
        // starts the next piece); '\s+' when that leaves nothing.
        let spaces = run(from: i, of: .space)
        let stop = spaces.end == end || spaces.lastStart == i ? spaces.end : spaces.lastStart
        body(i..<stop)
        i = stop
    }
}
