/// Describes the first invalid UTF-8 sequence in `bytes[range]`, or returns nil
/// when it is all valid. `firstLine` is the line number of `range.lowerBound`;
/// the description names the line only when the bad byte is on a later one
/// (a CSV record spanning lines).
///
/// Foundation would replace bad bytes with U+FFFD without a word; a dataset
/// with mangled text should be reported, not quietly trained on.
func utf8Problem(in bytes: Bytes, _ range: Range<Int>, firstLine: Int) -> String? {
    guard let bad = firstInvalidUTF8(in: bytes, range) else { return nil }
    var line = firstLine
    var lineStart = range.lowerBound
    for i in range.lowerBound..<bad where bytes[i] == ASCII.newline {
        line += 1
        lineStart = i + 1
    }
    let byte = "0x" + String(bytes[bad], radix: 16, uppercase: true)
    let place = line == firstLine ? "column \(bad - lineStart + 1)" : "line \(line), column \(bad - lineStart + 1)"
    return "invalid UTF-8 (byte \(byte) at \(place))"
}

/// The index of the first byte that does not start a valid UTF-8 sequence,
/// following the well-formed byte sequences of Unicode 15, table 3-7
/// (no overlong forms, no surrogates, nothing above U+10FFFF).
func firstInvalidUTF8(in bytes: Bytes, _ range: Range<Int>) -> Int? {
    var i = range.lowerBound
    let end = range.upperBound
    while i < end {
        let lead = bytes[i]
        if lead < 0x80 {
            i += 1
            continue
        }
        // Sequence length and the allowed range of the second byte.
        let length: Int
        let second: ClosedRange<UInt8>
        switch lead {
        case 0xC2...0xDF: (length, second) = (2, 0x80...0xBF)
        case 0xE0: (length, second) = (3, 0xA0...0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (length, second) = (3, 0x80...0xBF)
        case 0xED: (length, second) = (3, 0x80...0x9F)
        case 0xF0: (length, second) = (4, 0x90...0xBF)
        case 0xF1...0xF3: (length, second) = (4, 0x80...0xBF)
        case 0xF4: (length, second) = (4, 0x80...0x8F)
        default: return i
        }
        guard i + length <= end, second.contains(bytes[i + 1]) else { return i }
        for j in 2..<length where !(0x80...0xBF).contains(bytes[i + j]) {
            return i
        }
        i += length
    }
    return nil
}

/// The lines of `data` (standard input of `distillery tokenize`, say) as text, each without its
/// "\n" or "\r\n"; a line that is not valid UTF-8 is refused as a `RowError` naming `origin` and
/// the line, never repaired with U+FFFD.
public func textLines(_ data: [UInt8], origin: String) throws -> [String] {
    try data.withUnsafeBufferPointer { bytes in
        var lines: [String] = []
        try forEachLine(in: bytes) { line, range in
            if let problem = utf8Problem(in: bytes, range, firstLine: line) { throw RowError(file: origin, line: line, reason: problem) }
            lines.append(String(decoding: bytes[range], as: UTF8.self))
        }
        return lines
    }
}
