import Foundation

// The results table as Markdown (for people, aligned so that it reads in a terminal), CSV (for
// spreadsheets: mean and std in separate columns, numbers unformatted) and JSON (everything,
// per-seed values included). The HTML report shows the same cells as the Markdown, each
// metric's ± std on a line under its mean.

extension ResultsTable {
    /// Column headings for people; the metric columns follow `devMetrics` then `testMetrics`.
    var headings: [String] {
        ["student", "objectives", "init", "mapping", "size", "params", "seeds"]
            + devMetrics.map { "dev \($0)" } + testMetrics.map { "test \($0)" } + ["time"]
    }

    /// Which columns hold numbers (right-aligned).
    var numeric: [Bool] { headings.indices.map { $0 >= 5 } }

    /// A cell for people. A group's metric keeps its spread apart, so that the HTML table can put
    /// it on a line of its own under the mean (narrower columns; the Markdown joins them).
    struct Cell: Equatable {
        var text: String
        /// "± 0.0200", or "± —" for a single seed.
        var spread: String? = nil
        /// As the Markdown shows it: "0.8200 ± 0.0200".
        var joined: String { spread.map { "\(text) \($0)" } ?? text }
    }

    /// A row's cells for people: metrics as mean and ± std (std "—" for one seed), "—" where missing.
    func cells(_ row: Row) -> [Cell] {
        func metric(_ m: MeanStd?) -> Cell {
            guard let m else { return Cell(text: "—") }
            if row.isTeacher { return Cell(text: Format.metric(m.mean)) }
            return Cell(text: Format.metric(m.mean), spread: "± " + (m.std.map(Format.metric) ?? "—"))
        }
        let seeds: String
        if row.isTeacher { seeds = "—" } else {
            let failed = row.failedCount
            seeds = failed == 0 ? "\(row.members.count)" : "\(row.members.count) (\(failed) failed)"
        }
        let texts = [row.isTeacher ? "\(row.student) (teacher)" : row.student, row.objectives, row.initialization, row.mapping, row.size,
                     Format.count(row.parameters), seeds]
        return texts.map { Cell(text: $0) }
            + devMetrics.map { metric(row.dev[$0]) } + testMetrics.map { metric(row.test[$0]) }
            + [Cell(text: row.trainingSeconds.map { Format.duration($0.mean) } ?? "—")]
    }

    /// A Markdown pipe table padded to aligned columns, with a title and a note on what the cells mean.
    public func markdown() -> String {
        let rows = [headings] + self.rows.map { cells($0).map { $0.joined.replacingOccurrences(of: "|", with: "\\|") } }
        let widths = headings.indices.map { c in rows.map { $0[c].count }.max()! }
        func line(_ cells: [String]) -> String {
            "| " + cells.indices.map { c in
                let pad = String(repeating: " ", count: widths[c] - cells[c].count)
                return numeric[c] ? pad + cells[c] : cells[c] + pad
            }.joined(separator: " | ") + " |"
        }
        let rule = "|" + widths.indices.map { c in
            numeric[c] ? String(repeating: "-", count: widths[c] + 1) + ":" : ":" + String(repeating: "-", count: widths[c] + 1)
        }.joined(separator: "|") + "|"
        var text = "# \(study)\n\n"
        text += "Mean ± sample standard deviation over seeds (— for a single seed); metrics of each student's best dev checkpoint; time is the mean training time.\n\n"
        text += ([line(rows[0]), rule] + rows.dropFirst().map(line)).joined(separator: "\n") + "\n"
        return text
    }

    /// CSV (RFC 4180: CRLF line ends, fields with commas, quotes or line breaks quoted, quotes doubled).
    /// Columns: student, is_teacher, objectives, initialization, mapping, size, parameters, seeds,
    /// failed, then `dev_<metric>_mean`, `dev_<metric>_std`, … `test_…`, `training_seconds_mean`.
    /// Empty fields where a value is missing (and for the std of a single seed).
    public func csv() -> String {
        func number(_ x: Double?) -> String { x.map { "\($0)" } ?? "" }
        var header = ["student", "is_teacher", "objectives", "initialization", "mapping", "size", "parameters", "seeds", "failed"]
        for (split, metrics) in [("dev", devMetrics), ("test", testMetrics)] {
            for m in metrics { header += ["\(split)_\(m)_mean", "\(split)_\(m)_std"] }
        }
        header.append("training_seconds_mean")
        var lines = [header]
        for row in rows {
            var fields = [row.student, row.isTeacher ? "true" : "false", row.objectives, row.initialization, row.mapping, row.size,
                          "\(row.parameters)", row.isTeacher ? "" : "\(row.members.count)", row.isTeacher ? "" : "\(row.failedCount)"]
            for (values, metrics) in [(row.dev, devMetrics), (row.test, testMetrics)] {
                for m in metrics { fields += [number(values[m]?.mean), number(values[m]?.std)] }
            }
            fields.append(number(row.trainingSeconds?.mean))
            lines.append(fields)
        }
        return lines.map { $0.map(Self.csvField).joined(separator: ",") + "\r\n" }.joined()
    }

    static func csvField(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// The table with every per-seed value, pretty-printed with sorted keys; `ResultsTable` decodes it.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    /// Decodes what `json()` wrote.
    public static func decode(json data: Data) throws -> ResultsTable {
        try JSONDecoder().decode(ResultsTable.self, from: data)
    }
}

/// Numbers for people.
public enum Format {
    static func metric(_ x: Double) -> String { String(format: "%.4f", x) }

    /// 950 → "950", 22_713_216 → "22.7M", 350_000 → "350.0k".
    static func count(_ n: Int) -> String {
        let x = Double(n)
        if abs(x) >= 1e9 { return String(format: "%.2fG", x / 1e9) }
        if abs(x) >= 1e6 { return String(format: "%.1fM", x / 1e6) }
        if abs(x) >= 1e4 { return String(format: "%.1fk", x / 1e3) }
        return "\(n)"
    }

    /// 12.34 → "12.3 s", 245 → "4 min 05 s", 3725 → "1 h 02 min".
    static func duration(_ seconds: Double) -> String {
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let s = Int(seconds.rounded())
        if s < 3600 { return String(format: "%d min %02d s", s / 60, s % 60) }
        return String(format: "%d h %02d min", s / 3600, (s % 3600) / 60)
    }

    /// 1536 → "1.5 KiB".
    public static func bytes(_ n: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n), unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(n) B" : String(format: "%.1f ", value) + units[unit]
    }
}
