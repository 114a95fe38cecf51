import Foundation

/// SentencePiece's compiled normalisation rules (`precompiled_charsmap`, e.g. nmt_nfkc), applied as
/// HF `tokenizers`' `Precompiled` normaliser does.
///
/// The blob is a little-endian u32 `n`, then a darts-clone double-array trie of `n` bytes (u32
/// units) from UTF-8 input to offsets into the rest: replacement strings, each ended by NUL.
/// Each grapheme cluster shorter than 6 bytes is looked up whole; otherwise, or when it has no
/// rule, each of its scalars is looked up alone. A lookup takes the *first* (shortest) prefix the
/// trie matches and replaces the whole grapheme or scalar with it — HF's documented quirk, kept.
struct PrecompiledCharsmap: Sendable {
    private let units: [UInt32]
    private let replacements: [UInt8]

    /// Fails (with the reason) on a blob too short for its own trie size, or replacements that
    /// are not UTF-8.
    init(_ blob: [UInt8]) throws {
        guard blob.count >= 4 else { throw CharsmapError("\(blob.count) bytes, no trie size") }
        let trieSize = Int(blob[0]) | Int(blob[1]) << 8 | Int(blob[2]) << 16 | Int(blob[3]) << 24
        guard trieSize % 4 == 0, trieSize <= blob.count - 4 else {
            throw CharsmapError("trie size \(trieSize) does not fit the \(blob.count - 4) bytes after it")
        }
        var units = [UInt32](repeating: 0, count: trieSize / 4)
        for k in units.indices {
            let at = 4 + 4 * k
            units[k] = UInt32(blob[at]) | UInt32(blob[at + 1]) << 8 | UInt32(blob[at + 2]) << 16 | UInt32(blob[at + 3]) << 24
        }
        let replacements = Array(blob[(4 + trieSize)...])
        guard String(validating: replacements, as: UTF8.self) != nil else {
            throw CharsmapError("the replacement strings are not UTF-8")
        }
        guard !units.isEmpty else { throw CharsmapError("empty trie") }
        self.units = units
        self.replacements = replacements
    }

    struct CharsmapError: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    func normalize(_ text: String) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count)
        for grapheme in text {
            var grapheme = String(grapheme)  // small: stored inline, no allocation
            grapheme.withUTF8 { bytes in
                if bytes.count < 6, let range = replacement(for: bytes) {
                    output += replacements[range]
                    return
                }
                var i = 0
                while i < bytes.count {
                    let length = decodeScalar(bytes, at: i).length
                    let scalar = UnsafeBufferPointer(rebasing: bytes[i..<i + length])
                    if let range = replacement(for: scalar) {
                        output += replacements[range]
                    } else {
                        output += scalar
                    }
                    i += length
                }
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The replacement of the first (shortest) rule matching a prefix of `key`, as a range of
    /// `replacements`; nil when none matches or the rule points outside the strings.
    private func replacement(for key: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        var position = Int(Self.offset(units[0]))
        for byte in key {
            if byte == 0 { return nil }
            position ^= Int(byte)
            guard position < units.count else { return nil }
            let unit = units[position]
            guard unit & 0x8000_00FF == UInt32(byte) else { return nil }
            position ^= Int(Self.offset(unit))
            guard position < units.count else { return nil }
            if (unit >> 8) & 1 == 1 {
                let start = Int(units[position] & 0x7FFF_FFFF)
                guard start < replacements.count else { return start == replacements.count ? start..<start : nil }
                var end = start
                while end < replacements.count && replacements[end] != 0 { end += 1 }
                // A start inside a multi-byte character would make invalid UTF-8: no rule then.
                guard replacements[start] & 0xC0 != 0x80 else { return nil }
                return start..<end
            }
        }
        return nil
    }

    @inline(__always)
    private static func offset(_ unit: UInt32) -> UInt32 {
        (unit >> 10) << ((unit & (1 << 9)) >> 6)
    }
}
