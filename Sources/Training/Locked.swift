import Foundation

/// A value behind an `NSLock`, for state that the training thread and the UI thread share.
///
/// `Synchronization.Mutex` would do the same, but the toolchain's Synchronization module
/// is not built with ThreadSanitizer. TSan then misses the ordering between two threads
/// that take a `Mutex` and reports their accesses as races. `NSLock` sits on
/// `pthread_mutex_t`, which TSan intercepts, so `scripts/sanitize thread --full` checks
/// the session's locking instead of guessing at it.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) {
        self.value = value
    }

    /// Runs `body` on the value while holding the lock and returns what it returns.
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
