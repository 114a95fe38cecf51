import Foundation

/// Progress of long work: a redrawn bar with rate and ETA on a terminal, a plain line every
/// 10 seconds otherwise (logs, CI).
final class ProgressReporter {
    private let label: String
    private let interactive = isatty(STDERR_FILENO) != 0
    private let start = Date()
    private var lastLine = Date.distantPast

    init(label: String) { self.label = label }

    func update(done: Int, total: Int, rate: Double, unit: String) {
        let now = Date()
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        let elapsed = now.timeIntervalSince(start)
        let eta = fraction > 0 ? elapsed / fraction - elapsed : 0
        let text = String(format: "%@ %d/%d (%.0f%%) %.0f %@, ETA %@", label, done, total, fraction * 100, rate, unit, Self.duration(eta))
        if interactive {
            let width = 30, filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            FileHandle.standardError.write(Data("\r\(bar) \(text)\u{1B}[K".utf8))
        } else if now.timeIntervalSince(lastLine) >= 10 || done == total {
            FileHandle.standardError.write(Data((text + "\n").utf8))
            lastLine = now
        }
    }

    func finish() {
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60) : String(format: "%dm%02ds", s / 60, s % 60)
    }
}
