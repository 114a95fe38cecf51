/// Everything stage one and its readers report; each message names the file, dataset, row or field.
public enum CacheError: Error, CustomStringConvertible, Equatable {
    case invalidSpec(String)
    case incompatible(String)
    case badRow(String)
    case nonFinite(String)
    case notACache(String)
    case incomplete(String)
    case corrupt(String)
    case io(String)

    public var description: String {
        switch self {
        case .invalidSpec(let why): return "invalid cache spec: \(why)"
        case .incompatible(let why): return "incompatible: \(why)"
        case .badRow(let why): return "bad input row: \(why)"
        case .nonFinite(let why): return "non-finite teacher output: \(why)"
        case .notACache(let why): return "not a Distillery cache: \(why)"
        case .incomplete(let why): return "incomplete cache: \(why)"
        case .corrupt(let why): return "corrupt cache: \(why)"
        case .io(let why): return why
        }
    }
}
