/// A row as a format reader extracted it, before the checks every format shares.
struct RawExample {
    var line: Int
    var text: String
    var textPair: String?
    var label: Label?
    /// nil when no id field is configured; the line number is used then.
    var id: String?
}

/// Why a row could not be read, before the file and line are attached.
struct RowProblem: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// Turns rows into examples: assigns ids, checks labels and id uniqueness,
/// and either throws a bad row's error or counts it, per `skipBadRows`.
struct ExampleCollector {
    let file: String
    let fixedMap: LabelMap?
    let skipBadRows: Bool

    private(set) var examples: [Example] = []
    private(set) var report = DatasetReport()
    // Ids key the teacher cache, so a repeated id would let one row's outputs
    // overwrite another's.
    private var lineOfID: [String: Int] = [:]
    // Without a fixed map, labels must be all names or all numbers; the first
    // label decides which, and its line is quoted when a later one disagrees.
    private var firstLabel: (isName: Bool, line: Int)?
    private var names: Set<String> = []

    init(file: String, fixedMap: LabelMap?, skipBadRows: Bool) {
        self.file = file
        self.fixedMap = fixedMap
        self.skipBadRows = skipBadRows
    }

    /// Adds a row, or handles the reader's error for it.
    mutating func add(_ row: Result<RawExample, RowError>) throws {
        switch row {
        case .failure(let error):
            try reject(error)
        case .success(let raw):
            if let reason = problem(with: raw) {
                try reject(RowError(file: file, line: raw.line, reason: reason))
                return
            }
            let id = raw.id ?? String(raw.line)
            lineOfID[id] = raw.line
            if case .name(let name) = raw.label { names.insert(name) }
            if let label = raw.label, firstLabel == nil {
                firstLabel = (label.isName, raw.line)
            }
            examples.append(Example(id: id, text: raw.text, textPair: raw.textPair, label: raw.label))
            report.rowsRead += 1
        }
    }

    /// The fixed map, or the distinct class names sorted; nil when there are no names.
    var labelMap: LabelMap? {
        if let fixedMap { return fixedMap }
        return names.isEmpty ? nil : LabelMap(names: names.sorted())
    }

    private func problem(with raw: RawExample) -> String? {
        if let id = raw.id {
            if id.isEmpty { return "empty id" }
            if let first = lineOfID[id] { return "duplicate id '\(id)' (first on line \(first))" }
        }
        guard let label = raw.label else { return nil }
        if label == .name("") { return "empty label" }
        if let fixedMap {
            do {
                _ = try fixedMap.index(of: label)
            } catch {
                return "\(error)"
            }
        } else if let firstLabel, firstLabel.isName != label.isName {
            let earlier = firstLabel.isName ? "class names" : "numbers"
            return "label \(label) is a \(label.isName ? "name" : "number") but earlier labels are "
                + "\(earlier) (line \(firstLabel.line)); pass a label map to mix them"
        }
        return nil
    }

    private mutating func reject(_ error: RowError) throws {
        guard skipBadRows else { throw error }
        report.rowsSkipped += 1
        if report.skipped.count < DatasetReport.keptErrorLimit {
            report.skipped.append(error)
        }
    }
}

extension Label {
    var isName: Bool {
        if case .name = self { return true }
        return false
    }
}
