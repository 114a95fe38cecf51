/// One TSV or CSV record: its cells and the line it starts on.
struct DelimitedRecord {
    var line: Int
    var cells: [String]
}

/// Splits TSV into records: one per non-empty line, cells split on every tab.
/// There is no quoting, so a cell cannot hold a tab or a newline.
func forEachTSVRecord(
    _ bytes: Bytes, file: String, _ body: (Result<DelimitedRecord, RowError>) throws -> Void
) rethrows {
    try forEachLine(in: bytes) { line, range in
        if range.isEmpty { return }
        if let problem = utf8Problem(in: bytes, range, firstLine: line) {
            try body(.failure(RowError(file: file, line: line, reason: problem)))
            return
        }
        let cells = bytes[range].split(separator: ASCII.tab, omittingEmptySubsequences: false)
        try body(.success(DelimitedRecord(line: line, cells: cells.map(decodeChecked))))
    }
}

/// Splits CSV into records following RFC 4180: fields separated by commas,
/// records by "\r\n" or "\n"; a field in double quotes may hold commas,
/// newlines and doubled quotes (""), kept as written (a "\r\n" inside quotes
/// stays "\r\n"). Empty lines between records are skipped. A quote inside an
/// unquoted field is kept as an ordinary character, as Python's csv module does.
func forEachCSVRecord(
    _ bytes: Bytes, file: String, _ body: (Result<DelimitedRecord, RowError>) throws -> Void
) rethrows {
    var scanner = CSVScanner(bytes: bytes)
    while let (line, start) = scanner.skipEmptyLines() {
        let result = scanner.record()
        let span = start..<scanner.position
        // Bad UTF-8 is reported first: it may be what broke the quoting.
        if let problem = utf8Problem(in: bytes, span, firstLine: line) {
            try body(.failure(RowError(file: file, line: line, reason: problem)))
        } else {
            switch result {
            case .success(let cells): try body(.success(DelimitedRecord(line: line, cells: cells)))
            case .failure(let problem): try body(.failure(RowError(file: file, line: line, reason: problem.reason)))
            }
        }
    }
}

/// A cursor over CSV bytes that tracks the current line number.
private struct CSVScanner {
    let bytes: Bytes
    private(set) var position = 0
    private var line = 1

    init(bytes: Bytes) {
        self.bytes = bytes
    }

    /// Moves past empty lines; returns the next record's line and byte offset, or nil at the end.
    mutating func skipEmptyLines() -> (line: Int, start: Int)? {
        while position < bytes.count {
            if bytes[position] == ASCII.newline {
                position += 1
                line += 1
            } else if bytes[position] == ASCII.carriageReturn, endsRecord(at: position) {
                position += 1
            } else {
                return (line, position)
            }
        }
        return nil
    }

    /// Reads one record, leaving the cursor after its line ending.
    mutating func record() -> Result<[String], RowProblem> {
        var cells: [String] = []
        while true {
            if position < bytes.count, bytes[position] == ASCII.quote {
                guard let cell = quotedField() else {
                    return .failure(RowProblem("unterminated quoted field (field \(cells.count + 1))"))
                }
                cells.append(cell)
                if position < bytes.count, bytes[position] != ASCII.comma, !endsRecord(at: position) {
                    skipRestOfLine()
                    return .failure(RowProblem("unexpected text after the closing quote of field \(cells.count)"))
                }
            } else {
                cells.append(unquotedField())
            }
            if position < bytes.count, bytes[position] == ASCII.comma {
                position += 1
                continue
            }
            skipLineEnding()
            return .success(cells)
        }
    }

    // The cursor is on the opening quote; returns nil when the file ends first.
    private mutating func quotedField() -> String? {
        position += 1
        var cell: [UInt8] = []
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if byte == ASCII.quote {
                guard position < bytes.count, bytes[position] == ASCII.quote else {
                    // Decoding may repair bad bytes here, but then the caller's
                    // UTF-8 check rejects the whole record.
                    return String(decoding: cell, as: UTF8.self)
                }
                position += 1  // "" is one quote
            } else if byte == ASCII.newline {
                line += 1
            }
            cell.append(byte)
        }
        return nil
    }

    private mutating func unquotedField() -> String {
        let start = position
        while position < bytes.count, bytes[position] != ASCII.comma, !endsRecord(at: position) {
            position += 1
        }
        return decodeChecked(bytes[start..<position])
    }

    // "\n", "\r\n" or a "\r" that is the file's last byte.
    private func endsRecord(at index: Int) -> Bool {
        switch bytes[index] {
        case ASCII.newline: return true
        case ASCII.carriageReturn: return index + 1 == bytes.count || bytes[index + 1] == ASCII.newline
        default: return false
        }
    }

    private mutating func skipLineEnding() {
        if position < bytes.count, bytes[position] == ASCII.carriageReturn { position += 1 }
        if position < bytes.count, bytes[position] == ASCII.newline {
            position += 1
            line += 1
        }
    }

    // After a malformed record: resume at the next line.
    private mutating func skipRestOfLine() {
        while position < bytes.count, bytes[position] != ASCII.newline { position += 1 }
        skipLineEnding()
    }
}
