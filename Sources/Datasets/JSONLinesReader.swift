import JSON

/// Reads JSON Lines: each non-blank line is one object holding the fields.
/// Labels keep their JSON type: a string is a class name, a number a number.
/// An id may be a string or a number; a number's id is its text as written.
func readJSONLines(
    _ bytes: Bytes, file: String, fields: DatasetFields,
    _ emit: (Result<RawExample, RowError>) throws -> Void
) throws {
    try forEachLine(in: bytes) { line, range in
        if bytes[range].allSatisfy(isJSONWhitespace) { return }
        let row: Result<RawExample, RowError>
        do throws(RowProblem) {
            row = .success(try jsonRow(bytes, range, line: line, fields: fields))
        } catch {
            row = .failure(RowError(file: file, line: line, reason: error.reason))
        }
        try emit(row)
    }
}

/// A row is one line, already in memory, so only the depth is bounded: deep enough for any real
/// dataset row, shallow enough never to overflow the stack.
let jsonRowLimits = JSONLimits(maxBytes: .max, maxDepth: 256)

private func jsonRow(_ bytes: Bytes, _ range: Range<Int>, line: Int, fields: DatasetFields) throws(RowProblem) -> RawExample {
    if let problem = utf8Problem(in: bytes, range, firstLine: line) { throw RowProblem(problem) }
    let value: JSONValue
    do {
        value = try JSONParser.parse(Bytes(rebasing: bytes[range]), limits: jsonRowLimits)
    } catch {
        throw RowProblem("invalid JSON: \(error.message) at column \(error.offset + 1)")
    }
    guard case .object(let object) = value else {
        throw RowProblem("expected a JSON object, got \(value.kind)")
    }

    // A configured field must be present and non-null in every row.
    func field(_ name: String) throws(RowProblem) -> JSONValue {
        switch object[name] {
        case nil: throw RowProblem("missing field '\(name)'")
        case .null?: throw RowProblem("field '\(name)' is null")
        case let value?: return value
        }
    }
    func string(_ name: String) throws(RowProblem) -> String {
        let value = try field(name)
        guard case .string(let string) = value else {
            throw RowProblem("field '\(name)' must be a string, got \(value.kind)")
        }
        return string
    }

    var raw = RawExample(line: line, text: try string(fields.text))
    if let name = fields.textPair {
        raw.textPair = try string(name)
    }
    if let name = fields.label {
        switch try field(name) {
        case .string(let string): raw.label = .name(string)
        case .number(let number): raw.label = .number(number.value)
        case let other: throw RowProblem("field '\(name)' must be a string or a number, got \(other.kind)")
        }
    }
    if let name = fields.id {
        switch try field(name) {
        case .string(let string): raw.id = string
        case .number(let number): raw.id = number.text
        case let other: throw RowProblem("field '\(name)' must be a string or a number, got \(other.kind)")
        }
    }
    return raw
}

private func isJSONWhitespace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == ASCII.tab || byte == ASCII.carriageReturn
}
