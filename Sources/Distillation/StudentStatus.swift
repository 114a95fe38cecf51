/// What became of one student of a launch: the one mapping from launch decisions and group
/// outcomes to the statuses that `distillery train`'s summary.json, a study's ledger and its
/// report show.
public enum StudentStatus: Equatable, Sendable {
    /// Trained in this run.
    case trained
    /// Already trained with this configuration and cache: its run folder is kept.
    case skipped
    /// Refused before training (a run in the way, a configuration the cache cannot serve).
    case rejected(String)
    /// Stopped while training (diverged, a damaged cache, …); the others went on.
    case failed(String)

    /// The status word: trained, skipped (already trained), rejected, failed.
    public var word: String {
        switch self {
        case .trained: return "trained"
        case .skipped: return "skipped (already trained)"
        case .rejected: return "rejected"
        case .failed: return "failed"
        }
    }

    public var message: String? {
        switch self {
        case .trained, .skipped: return nil
        case .rejected(let why), .failed(let why): return why
        }
    }

    /// Whether the student has a trained model (this run's or an earlier one's).
    public var succeeded: Bool { message == nil }

    /// As a table shows it: "failed: why", "rejected: why", or the word.
    public var shown: String { message.map { "\(word): \($0)" } ?? word }

    /// Read back from its word and message (a study's ledger).
    public init?(word: String, message: String?) {
        switch word {
        case "trained": self = .trained
        case "skipped (already trained)": self = .skipped
        case "rejected": self = .rejected(message ?? "")
        case "failed": self = .failed(message ?? "")
        default: return nil
        }
    }
}

extension StudentLaunch {
    /// Every student's status once the group has run: rejected and skipped ones from the launch,
    /// the others from their outcomes, in that order.
    public func statuses(after outcomes: [StudentGroup.Outcome]) -> [(name: String, status: StudentStatus)] {
        rejected.map { ($0.name, .rejected("\($0.error)")) } + skipped.map { ($0.name, .skipped) }
            + outcomes.map { ($0.name, $0.error.map { .failed("\($0)") } ?? .trained) }
    }
}
