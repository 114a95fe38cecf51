/// The file's bytes, as read; all readers index into this without copying.
typealias Bytes = UnsafeBufferPointer<UInt8>

enum ASCII {
    static let newline = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")
    static let tab = UInt8(ascii: "\t")
    static let comma = UInt8(ascii: ",")
    static let quote = UInt8(ascii: "\"")
}

/// The bytes after a leading UTF-8 byte order mark, which spreadsheet
/// exports often write and which would otherwise stick to the first header name.
func droppingByteOrderMark(_ bytes: Bytes) -> Bytes {
    if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
        return Bytes(rebasing: bytes[3...])
    }
    return bytes
}

/// Calls `body` with each line's 1-based number and byte range, without the
/// "\n" or "\r\n" ending. A final line without an ending is still a line.
func forEachLine(in bytes: Bytes, _ body: (_ line: Int, _ range: Range<Int>) throws -> Void) rethrows {
    var start = 0
    var line = 1
    while start < bytes.count {
        let newline = bytes[start...].firstIndex(of: ASCII.newline)
        var end = newline ?? bytes.count
        if end > start, bytes[end - 1] == ASCII.carriageReturn { end -= 1 }
        try body(line, start..<end)
        guard let newline else { break }
        start = newline + 1
        line += 1
    }
}

/// A string from bytes already checked with `utf8Problem`, so decoding cannot
/// silently substitute U+FFFD.
func decodeChecked(_ bytes: Slice<Bytes>) -> String {
    String(decoding: bytes, as: UTF8.self)
}
