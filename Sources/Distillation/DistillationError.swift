/// Errors of stage two. Each names the setting, file, tensor or row at fault.
public enum DistillationError: Error, CustomStringConvertible, Equatable {
    case invalidSpec(String)
    case incompatible(String)
    case missingTargets(String)
    case nonFinite(String)
    case io(String)
    /// SIGINT/SIGTERM stopped the run after checkpointing (`--resume` continues it).
    case interrupted(signal: Int32, detail: String)

    public var description: String {
        switch self {
        case .invalidSpec(let why): return "invalid training spec: \(why)"
        case .incompatible(let why): return "incompatible: \(why)"
        case .missingTargets(let why): return "the cache lacks what the objectives need: \(why)"
        case .nonFinite(let why): return "training diverged: \(why)"
        case .io(let why): return why
        case .interrupted(let signal, let detail): return "interrupted by signal \(signal): \(detail)"
        }
    }
}
