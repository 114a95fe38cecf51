import Foundation
import CHDF5
import HDF5Zstd

/// A failed HDF5 operation: which file, which object in it, what was being done,
/// and why — the innermost message of HDF5's error stack, or the wrapper's own reason.
///
///     /tmp/cache.h5: /teacher/logits: read rows 0..<64 failed: data error detected by Fletcher32 checksum
public struct H5Error: Error, CustomStringConvertible, Sendable {
    /// The file's path; empty for errors of the chunk codec alone.
    public let file: String
    /// The object's path inside the file ("/" for the file itself); empty when none applies.
    public let object: String
    /// What was being done, e.g. "open", "append 16 rows", "read rows 0..<8".
    public let operation: String
    /// Why it failed, in words.
    public let reason: String
    /// HDF5's error stack, outermost API call first, as "function: message";
    /// empty when the error was found by the wrapper itself.
    public let hdf5Stack: [String]

    public var description: String {
        let place = [file, object].filter { !$0.isEmpty }.joined(separator: ": ")
        return (place.isEmpty ? "" : place + ": ") + "\(operation) failed: \(reason)"
    }
}

/// Where an operation happens: the file and object an error will name.
struct H5Site {
    let file: String
    let object: String

    /// An error found by the wrapper itself.
    func error(_ operation: String, _ reason: String) -> H5Error {
        H5Error(file: file, object: object, operation: operation, reason: reason, hdf5Stack: [])
    }

    /// An error reported by HDF5: takes (and clears) this thread's error stack.
    func hdf5Error(_ operation: String) -> H5Error {
        let stack = H5Library.takeErrorStack()
        let innermost = stack.last.map { $0.split(separator: ":", maxSplits: 1).last.map {
            $0.trimmingCharacters(in: .whitespaces) } ?? $0 }
        return H5Error(file: file, object: object, operation: operation,
                       reason: innermost ?? "HDF5 reported a failure without a message", hdf5Stack: stack)
    }

    /// Passes a non-negative id through; a negative one becomes an H5Error.
    @discardableResult
    func check(_ id: hid_t, _ operation: @autoclosure () -> String) throws -> hid_t {
        if id < 0 { throw hdf5Error(operation()) }
        return id
    }

    /// Passes a non-negative status (herr_t or htri_t) through; a negative one becomes an H5Error.
    @discardableResult
    func check(_ status: herr_t, _ operation: @autoclosure () -> String) throws -> herr_t {
        if status < 0 { throw hdf5Error(operation()) }
        return status
    }
}

/// Process-wide set-up of the HDF5 library, done once, and per-call quieting.
enum H5Library {
    /// The zstd filter registered in this process (runs once, on first use).
    private static let zstdRegistered: Bool = {
        H5Eset_auto2(dh5_e_default(), nil, nil)
        return distillery_register_zstd_filter() == 0
    }()

    /// Called at the start of every public operation. HDF5 (thread-safe build) keeps
    /// the error-printing setting per thread, so it is switched off on every call:
    /// failures become H5Errors instead of stack dumps on stderr.
    static func enter(_ site: H5Site, _ operation: @autoclosure () -> String) throws {
        quiet()
        if !zstdRegistered {
            throw site.error(operation(), "the zstd filter (id \(DISTILLERY_ZSTD_FILTER_ID)) could not be registered with HDF5")
        }
    }

    /// Stops HDF5 printing error stacks on this thread.
    static func quiet() {
        H5Eset_auto2(dh5_e_default(), nil, nil)
    }

    /// This thread's HDF5 error stack as "function: message" lines, outermost first; clears it.
    static func takeErrorStack() -> [String] {
        final class Lines { var items: [String] = [] }
        let lines = Lines()
        let walker: H5E_walk2_t = { _, error, context in
            guard let error, let context else { return 0 }
            let lines = Unmanaged<Lines>.fromOpaque(context).takeUnretainedValue()
            let function = error.pointee.func_name.map { String(cString: $0) } ?? "?"
            let message = error.pointee.desc.map { String(cString: $0) } ?? ""
            lines.items.append("\(function): \(message)")
            return 0
        }
        withExtendedLifetime(lines) {
            _ = H5Ewalk2(dh5_e_default(), H5E_WALK_DOWNWARD, walker, Unmanaged.passUnretained(lines).toOpaque())
        }
        H5Eclear2(dh5_e_default())
        return lines.items
    }
}

/// H5P_DEFAULT (Swift imports the macro as Int32, not hid_t).
let h5Default = hid_t(H5P_DEFAULT)
