import Dispatch
import Foundation

/// SIGINT and SIGTERM while students train: the first asks every run to stop after the step in
/// progress and write a checkpoint (`--resume` continues from it); a second SIGINT or SIGTERM
/// ends the process at once, and the last periodic checkpoint is what remains.
public final class InterruptRequest: @unchecked Sendable {
    public static let shared = InterruptRequest()

    private let lock = NSLock()
    private var received: Int32?
    private var sources: [DispatchSourceSignal] = []

    /// Routes SIGINT and SIGTERM here instead of killing the process (idempotent).
    public func install() {
        lock.lock(); defer { lock.unlock() }
        guard sources.isEmpty else { return }
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [unowned self] in self.deliver(number) }
            source.resume()
            sources.append(source)
        }
    }

    /// The signal received, if any (checked between steps).
    public var pending: Int32? { lock.lock(); defer { lock.unlock() }; return received }

    func deliver(_ number: Int32) {
        lock.lock()
        let second = received != nil
        received = received ?? number
        lock.unlock()
        if second {
            FileHandle.standardError.write(Data("\nsecond interrupt: stopping now; the last periodic checkpoint remains\n".utf8))
            signal(number, SIG_DFL)
            kill(getpid(), number)
        } else {
            FileHandle.standardError.write(Data("\ninterrupted: checkpointing after the current step (interrupt again to stop at once)\n".utf8))
        }
    }
}
