import Foundation

/// The study as one self-contained HTML file (`report.html`): inline CSS and SVG, no scripts,
/// nothing fetched. It is also well-formed XML (XHTML syntax), so XML tools can read it.
/// Sections: summary (teacher, stages and their times), the results table and every student,
/// scores against the teacher, learning curves per group, cache size per component.
public enum HTMLReport {
    public static func render(_ results: StudyResults) -> String {
        let table = ResultsTable(results)
        var html = """
        <!DOCTYPE html>
        <html xmlns="http://www.w3.org/1999/xhtml" lang="en">
        <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>\(escapeXML(results.name)) · Distillery report</title>
        <style>\(style)</style>
        </head>
        <body>
        <h1>\(escapeXML(results.name))</h1>

        """
        html += summary(results) + resultsSection(table, results) + scores(table) + curves(results) + cache(results.cacheComponents)
        html += "</body>\n</html>\n"
        return html
    }

    // The page is as wide as a 1,300 px window allows, for the results table's many metric columns
    // (each "± std" under its mean, so a column is as narrow as its heading); paragraphs keep a readable
    // measure; student names do not break at their hyphens.
    static let style = """
    body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 2em auto; max-width: 1240px; padding: 0 1em; }
    p { max-width: 62em; }
    h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ccc; } h3 { font-size: 1.05em; margin: 1.2em 0 0.3em; }
    table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.93em; font-variant-numeric: tabular-nums; }
    th, td { border: 1px solid #ccc; padding: 0.25em 0.45em; text-align: left; vertical-align: top; }
    th { background: #f2f2f2; } td.num { text-align: right; white-space: nowrap; } tr.teacher td { background: #f7f7ee; font-style: italic; }
    tr.failed td { color: #a00; } .note { color: #555; font-size: 0.92em; } .scroll { overflow-x: auto; }
    .spread { display: block; color: #555; font-size: 0.92em; } #results tr:not(.teacher) > td:first-child { white-space: nowrap; }
    svg { display: block; margin: 0.5em 0; max-width: 100%; height: auto; }
    """

    // MARK: Sections

    static func summary(_ results: StudyResults) -> String {
        let t = results.teacher
        var s = "<section id=\"summary\">\n<h2>Summary</h2>\n"
        s += "<p>Teacher <b>\(escapeXML(t.name))</b> (\(escapeXML(t.path))), \(escapeXML(t.size)), \(escapeXML(Format.count(t.parameters))) parameters. "
        let groups = results.groups.count, failed = results.students.filter(\.failed).count
        s += "\(results.students.count) student\(results.students.count == 1 ? "" : "s") in \(groups) group\(groups == 1 ? "" : "s")"
        s += failed > 0 ? ", \(failed) failed.</p>\n" : ".</p>\n"
        if results.stages.isEmpty { return s + "<p class=\"note\">No stage times recorded.</p>\n</section>\n" }
        s += "<table>\n<tr><th>stage</th><th>time</th></tr>\n"
        for stage in results.stages {
            s += "<tr><td>\(escapeXML(stage.name))</td><td class=\"num\">\(escapeXML(Format.duration(stage.seconds)))</td></tr>\n"
        }
        s += "<tr><th>total</th><th class=\"num\">\(escapeXML(Format.duration(results.stages.reduce(0) { $0 + $1.seconds })))</th></tr>\n"
        return s + "</table>\n</section>\n"
    }

    static func resultsSection(_ table: ResultsTable, _ results: StudyResults) -> String {
        var s = "<section id=\"results\">\n<h2>Results</h2>\n"
        s += "<p class=\"note\">One row per student group: mean ± sample standard deviation (n − 1) over its seeds (— for a single seed) of the metrics of each student's best dev checkpoint; failed seeds are counted apart and left out of the means. Time is the mean training time.</p>\n"
        s += "<div class=\"scroll\"><table>\n<tr>" + table.headings.map { "<th>\(escapeXML($0))</th>" }.joined() + "</tr>\n"
        for row in table.rows {
            s += "<tr\(row.isTeacher ? " class=\"teacher\"" : "")>"
            s += zip(table.cells(row), table.numeric).map(cell).joined() + "</tr>\n"
        }
        s += "</table></div>\n"
        guard !results.students.isEmpty else { return s + "<p class=\"note\">No students.</p>\n</section>\n" }
        let metric = table.mainMetric
        s += "<h3>Students</h3>\n<div class=\"scroll\"><table>\n<tr><th>student</th><th>group</th><th>seed</th><th>status</th>"
        if let metric { s += "<th>dev \(escapeXML(metric))</th><th>test \(escapeXML(metric))</th>" }
        s += "<th>time</th></tr>\n"
        for st in results.students {
            s += "<tr\(st.failed ? " class=\"failed\"" : "")><td>\(escapeXML(st.name))</td><td>\(escapeXML(st.group))</td><td class=\"num\">\(st.seed)</td><td>\(escapeXML(st.status))</td>"
            if let metric {
                s += "<td class=\"num\">\(st.dev[metric].map(Format.metric) ?? "—")</td><td class=\"num\">\(st.test[metric].map(Format.metric) ?? "—")</td>"
            }
            s += "<td class=\"num\">\(st.trainingSeconds > 0 ? escapeXML(Format.duration(st.trainingSeconds)) : "—")</td></tr>\n"
        }
        return s + "</table></div>\n</section>\n"
    }

    /// A results table cell; a group's metric has its "± std" on a line of its own under the mean.
    static func cell(_ cell: ResultsTable.Cell, numeric: Bool) -> String {
        let spread = cell.spread.map { " <span class=\"spread\">\(escapeXML($0))</span>" } ?? ""
        return "<td\(numeric ? " class=\"num\"" : "")>\(escapeXML(cell.text))\(spread)</td>"
    }

    static func scores(_ table: ResultsTable) -> String {
        var s = "<section id=\"scores\">\n<h2>Scores against the teacher</h2>\n"
        guard let metric = table.mainMetric, let chart = Charts.scores(table, metric: metric) else {
            return s + "<p class=\"note\">No student has a dev score.</p>\n</section>\n"
        }
        s += "<p class=\"note\">Each group's mean \(escapeXML(metric)) over its seeds with ± one sample standard deviation; the lines are the teacher's.</p>\n"
        return s + "<figure>" + chart + "</figure>\n</section>\n"
    }

    static func curves(_ results: StudyResults) -> String {
        var s = "<section id=\"curves\">\n<h2>Learning curves</h2>\n"
        guard !results.students.isEmpty else { return s + "<p class=\"note\">No students.</p>\n</section>\n" }
        s += "<p class=\"note\">Left: training loss at each logged update. Right: the dev metric at each evaluation. One line (colour, dash and marker) per seed.</p>\n"
        for (group, members) in results.groups {
            s += "<h3>\(escapeXML(group))</h3>\n"
            if let chart = Charts.learningCurves(group: group, students: members) { s += "<figure>" + chart + "</figure>\n" }
            let silent = members.filter { $0.curve.isEmpty && $0.evaluations.isEmpty }
            for st in silent { s += "<p class=\"note\">\(escapeXML(st.name)): no training log (\(escapeXML(st.status))).</p>\n" }
        }
        return s + "</section>\n"
    }

    static func cache(_ components: [CacheComponent]) -> String {
        var s = "<section id=\"cache\">\n<h2>Cache size per component</h2>\n"
        guard let chart = Charts.cacheSizes(components) else { return s + "<p class=\"note\">No cache components recorded.</p>\n</section>\n" }
        let perToken = components.reduce(0) { $0 + $1.bytesPerToken }, stored = components.reduce(0) { $0 + $1.storedBytes }
        s += "<p class=\"note\">Stored (compressed) bytes per cached token; in all \(escapeXML(String(format: "%.1f", perToken))) bytes per token, \(escapeXML(Format.bytes(stored))).</p>\n"
        return s + "<figure>" + chart + "</figure>\n</section>\n"
    }
}

/// Writes a study's files into `folder`: results.md, results.csv, results.json, report.html.
public enum StudyReport {
    public static let files = ["results.md", "results.csv", "results.json", "report.html"]

    public static func write(_ results: StudyResults, to folder: URL) throws {
        let table = ResultsTable(results)
        let contents: [(String, Data)] = [
            ("results.md", Data(table.markdown().utf8)), ("results.csv", Data(table.csv().utf8)),
            ("results.json", try table.json()), ("report.html", Data(HTMLReport.render(results).utf8)),
        ]
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for (name, data) in contents { try data.write(to: folder.appendingPathComponent(name), options: .atomic) }
        } catch {
            throw ReportsError.io("cannot write the report into \(folder.path): \(error.localizedDescription)")
        }
    }
}
