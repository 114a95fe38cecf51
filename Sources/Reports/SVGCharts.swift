import Foundation

// The report's charts as inline SVG: no scripts, no external resources. Every series differs in
// dash pattern and marker shape as well as colour, so the charts read in greyscale and print.
// All text goes through `escapeXML`.

/// Text for XML/HTML content and attribute values: & < > " ' escaped, control characters dropped
/// (XML does not allow them).
func escapeXML(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
        default: if scalar.value >= 0x20 && !(0x7F...0x9F).contains(scalar.value) { out.unicodeScalars.append(scalar) }
        }
    }
    return out
}

/// Series styles, cycled: Okabe–Ito colours (distinct for colour-blind readers), dash patterns, markers.
enum SeriesStyle {
    static let colours = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
    static let dashes = ["none", "7 3", "2 2", "9 3 2 3", "14 4", "1 3", "5 2 1 2 1 2"]
    static let markers = ["circle", "square", "triangle", "diamond", "cross"]

    static func colour(_ i: Int) -> String { colours[i % colours.count] }
    static func dash(_ i: Int) -> String { dashes[i % dashes.count] }

    /// Marker `i` centred at (x, y).
    static func marker(_ i: Int, x: Double, y: Double, colour: String) -> String {
        let r = 3.5
        let style = "fill=\"#fff\" stroke=\"\(colour)\" stroke-width=\"1.5\""
        switch markers[i % markers.count] {
        case "circle": return "<circle cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"\(f(r))\" \(style)/>"
        case "square": return "<rect x=\"\(f(x - r))\" y=\"\(f(y - r))\" width=\"\(f(2 * r))\" height=\"\(f(2 * r))\" \(style)/>"
        case "triangle": return "<polygon points=\"\(f(x)),\(f(y - r - 1)) \(f(x + r + 0.5)),\(f(y + r)) \(f(x - r - 0.5)),\(f(y + r))\" \(style)/>"
        case "diamond": return "<polygon points=\"\(f(x)),\(f(y - r - 1)) \(f(x + r + 1)),\(f(y)) \(f(x)),\(f(y + r + 1)) \(f(x - r - 1)),\(f(y))\" \(style)/>"
        default: return "<path d=\"M\(f(x - r)) \(f(y - r))L\(f(x + r)) \(f(y + r))M\(f(x - r)) \(f(y + r))L\(f(x + r)) \(f(y - r))\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\"/>"
        }
    }
}

/// Presentation attributes (not CSS classes), so a chart looks the same inside the page and saved alone.
enum Look {
    static let grid = "stroke=\"#e4e4e4\" stroke-width=\"1\""
    static let tick = "stroke=\"#444\" stroke-width=\"1\""
    static let frame = "fill=\"none\" stroke=\"#444\" stroke-width=\"1\""
    static let title = "font-size=\"12\""
    static let errorBar = "fill=\"none\" stroke=\"#111\" stroke-width=\"1.3\""
    static let reference = "stroke=\"#111\" stroke-width=\"1.5\""
}

/// Coordinates with one decimal.
func f(_ x: Double) -> String { String(format: "%.1f", x) }

/// A linear axis over "nice" round ticks (steps of 1, 2 or 5 × 10^k) that cover the values.
struct Scale: Equatable {
    var lo: Double, hi: Double, step: Double

    /// `within`: the range a bounded metric can take (accuracy [0, 1], Matthews [−1, 1]); rounding
    /// out to whole steps, or padding a flat series, stops at its ends, so an accuracy axis never
    /// runs past 1.0. Values outside it still show.
    init(covering values: [Double], includingZero: Bool = false, ticks: Int = 5, within bound: ClosedRange<Double>? = nil) {
        let values = values.filter(\.isFinite)
        let first = values.min() ?? 0, last = values.max() ?? 1
        var lo = includingZero ? min(first, 0) : first, hi = includingZero ? max(last, 0) : last
        if hi - lo < 1e-12 { let pad = max(abs(lo) * 0.05, 0.5); lo -= pad; hi += pad }
        let raw = (hi - lo) / Double(max(1, ticks))
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        // The round step nearest the raw one (in ratio), so the axis has about `ticks` intervals.
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.min { abs(log($0 / raw)) < abs(log($1 / raw)) }!
        self.step = step
        // The tolerance keeps a value on a tick (0.56 / 0.02 = 28.000000000000004) from adding a step.
        self.lo = (lo / step + 1e-9).rounded(.down) * step
        self.hi = (hi / step - 1e-9).rounded(.up) * step
        if let bound {
            self.lo = max(self.lo, min(first, bound.lowerBound))
            self.hi = min(self.hi, max(last, bound.upperBound))
        }
    }

    /// The multiples of `step` from `lo` to `hi`.
    var ticks: [Double] {
        let first = (lo / step - 1e-9).rounded(.up), last = (hi / step + 1e-9).rounded(.down)
        return stride(from: first, through: last, by: 1).map { $0 * step }
    }

    /// `value` mapped linearly from [lo, hi] to [from, to].
    func map(_ value: Double, _ from: Double, _ to: Double) -> Double {
        from + (value - lo) / (hi - lo) * (to - from)
    }

    /// Tick labels with as many decimals as the step needs.
    func label(_ value: Double) -> String {
        let decimals = max(0, Int((-log10(step)).rounded(.up)))
        let text = String(format: "%.\(decimals)f", abs(value) < step * 1e-6 ? 0 : value)
        return text
    }
}

/// A plotting area inside an SVG: x and y scales and the rectangle they fill.
struct Panel {
    var x: Scale, y: Scale
    var left: Double, top: Double, width: Double, height: Double

    func px(_ v: Double) -> Double { x.map(v, left, left + width) }
    func py(_ v: Double) -> Double { y.map(v, top + height, top) }

    /// Frame, grid lines, ticks and their labels, and the axis titles.
    func axes(xTitle: String, yTitle: String, xTicks: Bool = true) -> String {
        var s = "<g class=\"axes\">"
        for t in y.ticks {
            let yy = py(t)
            s += "<line x1=\"\(f(left))\" y1=\"\(f(yy))\" x2=\"\(f(left + width))\" y2=\"\(f(yy))\" \(Look.grid)/>"
            s += "<line x1=\"\(f(left - 4))\" y1=\"\(f(yy))\" x2=\"\(f(left))\" y2=\"\(f(yy))\" \(Look.tick)/>"
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(yy + 3.5))\" text-anchor=\"end\">\(escapeXML(y.label(t)))</text>"
        }
        if xTicks {
            for t in x.ticks {
                let xx = px(t)
                s += "<line x1=\"\(f(xx))\" y1=\"\(f(top + height))\" x2=\"\(f(xx))\" y2=\"\(f(top + height + 4))\" \(Look.tick)/>"
                s += "<text x=\"\(f(xx))\" y=\"\(f(top + height + 16))\" text-anchor=\"middle\">\(escapeXML(x.label(t)))</text>"
            }
        }
        s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(width))\" height=\"\(f(height))\" \(Look.frame)/>"
        s += "<text x=\"\(f(left + width / 2))\" y=\"\(f(top + height + 32))\" text-anchor=\"middle\" \(Look.title)>\(escapeXML(xTitle))</text>"
        s += "<text transform=\"translate(\(f(left - 44)),\(f(top + height / 2))) rotate(-90)\" text-anchor=\"middle\" \(Look.title)>\(escapeXML(yTitle))</text>"
        return s + "</g>"
    }
}

enum Charts {
    static func svg(width: Double, height: Double, label: String, _ body: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" viewBox=\"0 0 \(f(width)) \(f(height))\" font-family=\"system-ui, sans-serif\" font-size=\"11\" fill=\"#222\" role=\"img\" aria-label=\"\(escapeXML(label))\">"
            + "<title>\(escapeXML(label))</title>" + body + "</svg>"
    }

    /// One group's learning curves: training loss over updates (left) and the dev metric at each
    /// evaluation (right), a line per seed. nil when no member has a curve or an evaluation.
    static func learningCurves(group: String, students: [StudentResult]) -> String? {
        let members = students.filter { !$0.curve.isEmpty || !$0.evaluations.isEmpty }
        guard !members.isEmpty else { return nil }
        let metric = members.first { !$0.evaluations.isEmpty }?.evaluationMetric ?? "accuracy"
        let steps = members.flatMap { $0.curve.map { Double($0.step) } + $0.evaluations.map { Double($0.step) } }
        let stepScale = Scale(covering: steps + [0], ticks: 4)
        let width = 680.0, panelWidth = 250.0, height = 210.0, legendTop = height + 52
        let loss = Panel(x: stepScale, y: Scale(covering: members.flatMap { $0.curve.map(\.value) }, ticks: 4),
                         left: 64, top: 14, width: panelWidth, height: height - 14)
        let dev = Panel(x: stepScale, y: Scale(covering: members.flatMap { $0.evaluations.map(\.value) }, ticks: 4, within: Metric.bounds[metric]),
                        left: 64 + panelWidth + 90, top: 14, width: panelWidth, height: height - 14)
        var body = loss.axes(xTitle: "update", yTitle: "training loss") + dev.axes(xTitle: "update", yTitle: "dev \(metric)")
        for (i, s) in members.enumerated() {
            let colour = SeriesStyle.colour(i), dash = SeriesStyle.dash(i)
            func polyline(_ points: [CurvePoint], _ panel: Panel, width: Double) -> String {
                let points = points.filter(\.value.isFinite)
                guard !points.isEmpty else { return "" }
                let coordinates = points.map { "\(f(panel.px(Double($0.step)))),\(f(panel.py($0.value)))" }.joined(separator: " ")
                return "<polyline points=\"\(coordinates)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"\(f(width))\" stroke-dasharray=\"\(dash)\"/>"
            }
            body += "<g class=\"series\"><title>\(escapeXML(s.name))</title>" + polyline(s.curve, loss, width: 1.6) + polyline(s.evaluations, dev, width: 1)
            body += s.evaluations.filter(\.value.isFinite).map { SeriesStyle.marker(i, x: dev.px(Double($0.step)), y: dev.py($0.value), colour: colour) }.joined()
            if s.curve.count == 1 {   // a single logged update has no line to draw
                body += SeriesStyle.marker(i, x: loss.px(Double(s.curve[0].step)), y: loss.py(s.curve[0].value), colour: colour)
            }
            body += "</g>"
        }
        body += legend(members.map { "\($0.name) (seed \($0.seed))" }, top: legendTop, left: 64)
        let rows = Double((members.count + 2) / 3)
        return svg(width: width, height: legendTop + rows * 18 + 4, label: "learning curves of \(group)", body)
    }

    /// A legend in three columns: each entry's line sample (dash and colour) and marker.
    static func legend(_ entries: [String], top: Double, left: Double) -> String {
        var s = "<g class=\"legend\">"
        for (i, entry) in entries.enumerated() {
            let x = left + Double(i % 3) * 205, y = top + Double(i / 3) * 18
            let colour = SeriesStyle.colour(i)
            s += "<line x1=\"\(f(x))\" y1=\"\(f(y))\" x2=\"\(f(x + 30))\" y2=\"\(f(y))\" stroke=\"\(colour)\" stroke-width=\"1.6\" stroke-dasharray=\"\(SeriesStyle.dash(i))\"/>"
            s += SeriesStyle.marker(i, x: x + 15, y: y, colour: colour)
            s += "<text x=\"\(f(x + 36))\" y=\"\(f(y + 4))\">\(escapeXML(String(entry.prefix(30))))</text>"
        }
        return s + "</g>"
    }

    /// Each group's mean dev (solid) and test (hatched) score with ± std error bars, against the
    /// teacher's (dashed line: dev, dotted line: test). nil when no row has the metric.
    static func scores(_ table: ResultsTable, metric: String) -> String? {
        let groups = table.rows.filter { !$0.isTeacher }
        let teacher = table.rows.first(where: \.isTeacher)
        let hasTest = groups.contains { $0.test[metric] != nil }
        let bars = groups.map { row in [row.dev[metric], hasTest ? row.test[metric] : nil] }
        let extents = bars.flatMap { $0.compactMap { $0 }.flatMap { [$0.mean - ($0.std ?? 0), $0.mean + ($0.std ?? 0)] } }
        guard !extents.isEmpty else { return nil }
        let references = [teacher?.dev[metric]?.mean, hasTest ? teacher?.test[metric]?.mean : nil].compactMap { $0 }
        let slot = hasTest ? 64.0 : 44.0
        let plotWidth = max(300, slot * Double(groups.count))
        // Group names are written at −35° below the bars (at most 32 characters of about 6.2 px):
        // room below for their height, and on the left for the first one's width.
        let longest = Double(min(32, groups.map(\.student.count).max() ?? 0)) * 6.2
        let labelSpace = 16 + longest * 0.58
        let left = max(70, longest * 0.82 - plotWidth / Double(groups.count) / 2 + 10)
        let panel = Panel(x: Scale(covering: [0, 1]), y: Scale(covering: extents + references, ticks: 5, within: Metric.bounds[metric]),
                          left: left, top: 16, width: plotWidth, height: 220)
        var body = "<defs><pattern id=\"hatch-test\" patternUnits=\"userSpaceOnUse\" width=\"6\" height=\"6\" patternTransform=\"rotate(45)\">"
            + "<rect width=\"6\" height=\"6\" fill=\"#fff\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"\(SeriesStyle.colour(1))\" stroke-width=\"3\"/></pattern></defs>"
        body += panel.axes(xTitle: "", yTitle: "\(metric)\(Metric.lowerIsBetter.contains(metric) ? " (lower is better)" : "")", xTicks: false)
        let bottom = panel.top + panel.height
        // Bars rise from zero, or from the axis end nearest zero when zero is off the axis.
        let baseline = min(max(0, panel.y.lo), panel.y.hi), base = panel.py(baseline)
        for (g, row) in groups.enumerated() {
            let centre = panel.left + (Double(g) + 0.5) * plotWidth / Double(groups.count)
            let barWidth = hasTest ? 22.0 : 26.0
            for (k, value) in bars[g].enumerated() {
                guard let value else { continue }
                let x = hasTest ? centre + (k == 0 ? -barWidth - 1 : 1) : centre - barWidth / 2
                let top = panel.py(value.mean)
                let split = k == 0 ? "dev" : "test"
                let fill = k == 0 ? "fill=\"\(SeriesStyle.colour(0))\"" : "fill=\"url(#hatch-test)\" stroke=\"\(SeriesStyle.colour(1))\""
                body += "<rect x=\"\(f(x))\" y=\"\(f(min(top, base)))\" width=\"\(f(barWidth))\" height=\"\(f(abs(base - top)))\" \(fill)>"
                body += "<title>\(escapeXML("\(row.student) \(split): \(Format.metric(value.mean))\(value.std.map { " ± " + Format.metric($0) } ?? "") (n = \(value.n))"))</title></rect>"
                if let std = value.std {
                    let cx = x + barWidth / 2, y1 = panel.py(value.mean - std), y2 = panel.py(value.mean + std)
                    body += "<path d=\"M\(f(cx)) \(f(y1))V\(f(y2))M\(f(cx - 5)) \(f(y1))H\(f(cx + 5))M\(f(cx - 5)) \(f(y2))H\(f(cx + 5))\" \(Look.errorBar)/>"
                }
            }
            body += "<text transform=\"translate(\(f(centre + 4)),\(f(bottom + 10))) rotate(-35)\" text-anchor=\"end\">\(escapeXML(String(row.student.prefix(32))))</text>"
        }
        var legendItems: [String] = []
        var y = bottom + labelSpace + 8
        func item(_ graphic: String, _ text: String) {
            legendItems.append("<g transform=\"translate(\(f(panel.left)),\(f(y)))\">\(graphic)<text x=\"40\" y=\"4\">\(escapeXML(text))</text></g>")
            y += 18
        }
        item("<rect x=\"8\" y=\"-6\" width=\"16\" height=\"12\" fill=\"\(SeriesStyle.colour(0))\"/>", "dev: mean over seeds, error bar ± sample std")
        if hasTest { item("<rect x=\"8\" y=\"-6\" width=\"16\" height=\"12\" fill=\"url(#hatch-test)\" stroke=\"\(SeriesStyle.colour(1))\"/>", "test: mean over seeds, error bar ± sample std") }
        for (k, split) in ["dev", "test"].enumerated() {
            guard let reference = k == 0 ? teacher?.dev[metric]?.mean : (hasTest ? teacher?.test[metric]?.mean : nil) else { continue }
            let yy = panel.py(reference)
            let style = k == 0 ? "\(Look.reference) stroke-dasharray=\"8 4\"" : "\(Look.reference) stroke-dasharray=\"2 3\""
            body += "<line x1=\"\(f(panel.left))\" y1=\"\(f(yy))\" x2=\"\(f(panel.left + plotWidth))\" y2=\"\(f(yy))\" \(style)/>"
            item("<line x1=\"0\" y1=\"0\" x2=\"32\" y2=\"0\" \(style)/>", "teacher \(split): \(Format.metric(reference))")
        }
        if baseline != 0 { item("", "bars start at \(panel.y.label(baseline)), the axis minimum, not at zero") }
        body += legendItems.joined()
        return svg(width: max(panel.left + plotWidth + 20, 480), height: y + 6, label: "dev\(hasTest ? " and test" : "") \(metric) per group against the teacher", body)
    }

    /// Horizontal bars: stored bytes per token of each cache component, labelled with the value
    /// and the stored size. nil without components.
    static func cacheSizes(_ components: [CacheComponent]) -> String? {
        guard !components.isEmpty else { return nil }
        let labelWidth = min(200, 16 + Double(components.map(\.name.count).max()!) * 7)
        let rowHeight = 22.0, plotWidth = 360.0
        let panel = Panel(x: Scale(covering: components.map(\.bytesPerToken), includingZero: true, ticks: 4), y: Scale(covering: [0, 1]),
                          left: labelWidth, top: 10, width: plotWidth, height: rowHeight * Double(components.count))
        var body = ""
        for t in panel.x.ticks {
            let xx = panel.px(t), bottom = panel.top + panel.height
            body += "<line x1=\"\(f(xx))\" y1=\"\(f(panel.top))\" x2=\"\(f(xx))\" y2=\"\(f(bottom))\" \(Look.grid)/>"
            body += "<line x1=\"\(f(xx))\" y1=\"\(f(bottom))\" x2=\"\(f(xx))\" y2=\"\(f(bottom + 4))\" \(Look.tick)/>"
            body += "<text x=\"\(f(xx))\" y=\"\(f(bottom + 16))\" text-anchor=\"middle\">\(escapeXML(panel.x.label(t)))</text>"
        }
        for (i, c) in components.enumerated() {
            let y = panel.top + Double(i) * rowHeight
            let x0 = panel.px(0), x1 = panel.px(c.bytesPerToken)
            body += "<text x=\"\(f(labelWidth - 8))\" y=\"\(f(y + rowHeight / 2 + 4))\" text-anchor=\"end\">\(escapeXML(c.name))</text>"
            body += "<rect x=\"\(f(x0))\" y=\"\(f(y + 4))\" width=\"\(f(max(0, x1 - x0)))\" height=\"\(f(rowHeight - 8))\" fill=\"\(SeriesStyle.colour(i % 2 == 0 ? 0 : 5))\" stroke=\"#333\" stroke-width=\"0.5\"/>"
            body += "<text x=\"\(f(x1 + 6))\" y=\"\(f(y + rowHeight / 2 + 4))\">\(escapeXML(String(format: "%.1f B/token · ", c.bytesPerToken) + Format.bytes(c.storedBytes)))</text>"
        }
        body += "<line x1=\"\(f(panel.px(0)))\" y1=\"\(f(panel.top))\" x2=\"\(f(panel.px(0)))\" y2=\"\(f(panel.top + panel.height))\" \(Look.tick)/>"
        let bottom = panel.top + panel.height
        body += "<text x=\"\(f(panel.left + plotWidth / 2))\" y=\"\(f(bottom + 32))\" text-anchor=\"middle\" \(Look.title)>stored bytes per token</text>"
        return svg(width: labelWidth + plotWidth + 170, height: bottom + 40, label: "cache size per component", body)
    }
}
