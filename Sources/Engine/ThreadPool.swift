import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A fixed set of worker threads that run the ranges of a `parallelFor` call.
///
/// The workers are created once in `init`. After a call they poll for the next one for a
/// short while (`spinLimit` polls, tens of microseconds) and then sleep on a condition
/// variable, so the back-to-back kernel calls of a training step skip the futex wake-up
/// and an idle pool uses no CPU. The caller polls for the workers' completion the same way. `parallelFor` splits
/// `0..<count` into `threadCount` contiguous ranges by a fixed rule (range `t` is
/// `t * count / threadCount ..< (t + 1) * count / threadCount`). The caller runs range 0 and
/// worker `t` runs range `t`.
///
/// Kernels built on this pool give bitwise identical results for every thread count because
/// they split only over independent outputs and never combine per-range partial sums.
///
/// One thread at a time may call `parallelFor`: concurrent calls from different threads wait
/// for each other. A body must not call `parallelFor` on the same pool, because the nested call
/// would wait for the call that contains it.
public final class ThreadPool: @unchecked Sendable {
    public let threadCount: Int

    private let shared: PoolSharedState
    private var workers: [pthread_t] = []

    /// Creates a pool that runs each call on `threads` threads: the caller plus
    /// `threads - 1` workers. `ThreadPool(threads: 1)` starts no worker and runs every body
    /// inline.
    public init(threads: Int) {
        precondition(threads >= 1, "ThreadPool needs at least 1 thread, got \(threads)")
        threadCount = threads
        shared = PoolSharedState(threadCount: threads)
        for workerIndex in 1..<threads {
            let context = WorkerContext(shared: shared, workerIndex: workerIndex)
            let retained = Unmanaged.passRetained(context).toOpaque()
            var thread = pthread_t()
            let status = pthread_create(&thread, nil, workerMain, retained)
            precondition(status == 0, "pthread_create failed with error \(status)")
            workers.append(thread)
        }
    }

    /// Creates a pool with one thread per online processor.
    public convenience init() {
        self.init(threads: max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
    }

    deinit {
        shared.lock()
        shared.isShuttingDown = true
        shared.broadcast()
        shared.unlock()
        for thread in workers {
            pthread_join(thread, nil)
        }
    }

    /// Returns range `part` of the static split of `0..<count` into `parts` ranges.
    public static func range(part: Int, of parts: Int, count: Int) -> Range<Int> {
        (part * count / parts)..<((part + 1) * count / parts)
    }

    /// Splits `0..<count` into contiguous ranges, one per thread, and runs `body` on each
    /// non-empty range. Returns when every range is done.
    public func parallelFor(_ count: Int, _ body: (Range<Int>) -> Void) {
        parallelFor(count, withThreadIndex: { range, _ in body(range) })
    }

    /// Runs `body(range, threadIndex)` like `parallelFor(_:_:)`. `threadIndex` is in
    /// `0..<threadCount` and is unique among the ranges of one call, so a kernel can give each
    /// range its own scratch buffer.
    public func parallelFor(_ count: Int, withThreadIndex body: (Range<Int>, Int) -> Void) {
        precondition(count >= 0, "parallelFor count must be non-negative, got \(count)")
        if threadCount == 1 || count <= 1 {
            if count > 0 { body(0..<count, 0) }
            return
        }
        withoutActuallyEscaping(body) { escapingBody in
            shared.callLock()
            defer { shared.callUnlock() }

            // Publish the job. Workers read `job` and `count` under the lock after they see
            // the generation change, and the caller clears `job` only after every worker has
            // reported, so no worker can call the closure after this scope ends.
            shared.lock()
            shared.job = escapingBody
            shared.count = count
            shared.pendingWorkers = threadCount - 1
            shared.pendingMirror.store(threadCount - 1, ordering: .releasing)
            shared.generation &+= 1
            shared.generationMirror.store(shared.generation, ordering: .releasing)
            if shared.sleepingWorkers > 0 { shared.broadcast() }
            shared.unlock()

            let own = ThreadPool.range(part: 0, of: threadCount, count: count)
            if !own.isEmpty { escapingBody(own, 0) }

            var polls = 0
            while shared.pendingMirror.load(ordering: .acquiring) > 0 && polls < spinLimit {
                polls += 1
            }
            shared.lock()
            while shared.pendingWorkers > 0 {
                shared.isCallerSleeping = true
                shared.waitForCompletion()
                shared.isCallerSleeping = false
            }
            shared.job = nil
            shared.unlock()
        }
    }
}

/// Polls of an atomic before a worker sleeps or the caller waits on a condition variable.
/// One poll takes a few nanoseconds (an estimate, not measured), so 20_000 polls last tens of
/// microseconds. That is longer than the gap between two kernels of a training step and
/// short enough that an idle pool stops using CPU almost at once.
private let spinLimit = 20_000

/// The state that the pool and its workers share. Every plain field is read and written only
/// while `mutex` is held. The two atomics mirror `generation` and `pendingWorkers` so that
/// threads can poll them without the lock; a thread that sees a change takes the lock before
/// it reads anything else.
private final class PoolSharedState: @unchecked Sendable {
    let threadCount: Int
    var job: ((Range<Int>, Int) -> Void)?
    var count = 0
    var generation: UInt64 = 0
    var pendingWorkers = 0
    var isShuttingDown = false
    /// Workers waiting on `condition`; the caller signals only when there are any.
    var sleepingWorkers = 0
    /// Whether the caller waits on `doneCondition` for the last worker.
    var isCallerSleeping = false
    let generationMirror = Atomic<UInt64>(0)
    let pendingMirror = Atomic<Int>(0)

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private let doneCondition: UnsafeMutablePointer<pthread_cond_t>
    /// Serialises whole `parallelFor` calls made from different threads.
    private let callMutex: UnsafeMutablePointer<pthread_mutex_t>

    init(threadCount: Int) {
        self.threadCount = threadCount
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        doneCondition = .allocate(capacity: 1)
        callMutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        pthread_cond_init(doneCondition, nil)
        pthread_mutex_init(callMutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        pthread_cond_destroy(condition)
        pthread_cond_destroy(doneCondition)
        pthread_mutex_destroy(callMutex)
        mutex.deallocate()
        condition.deallocate()
        doneCondition.deallocate()
        callMutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    func wait() { pthread_cond_wait(condition, mutex) }
    func broadcast() { pthread_cond_broadcast(condition) }
    func waitForCompletion() { pthread_cond_wait(doneCondition, mutex) }
    func signalCompletion() { pthread_cond_signal(doneCondition) }
    func callLock() { pthread_mutex_lock(callMutex) }
    func callUnlock() { pthread_mutex_unlock(callMutex) }
}

private final class WorkerContext {
    let shared: PoolSharedState
    let workerIndex: Int

    init(shared: PoolSharedState, workerIndex: Int) {
        self.shared = shared
        self.workerIndex = workerIndex
    }
}

#if canImport(Glibc)
    private typealias WorkerArgument = UnsafeMutableRawPointer?
#else
    private typealias WorkerArgument = UnsafeMutableRawPointer
#endif

/// Runs one worker thread: sleeps until the generation changes, runs this worker's range of
/// the published job, reports completion, and repeats until shutdown.
private func workerMain(_ argument: WorkerArgument) -> UnsafeMutableRawPointer? {
    let context = Unmanaged<WorkerContext>.fromOpaque(argument!).takeRetainedValue()
    let shared = context.shared
    var seenGeneration: UInt64 = 0
    while true {
        var polls = 0
        while shared.generationMirror.load(ordering: .acquiring) == seenGeneration
            && polls < spinLimit
        {
            polls += 1
        }
        shared.lock()
        while shared.generation == seenGeneration && !shared.isShuttingDown {
            shared.sleepingWorkers += 1
            shared.wait()
            shared.sleepingWorkers -= 1
        }
        if shared.isShuttingDown {
            shared.unlock()
            return nil
        }
        seenGeneration = shared.generation
        var job = shared.job
        let count = shared.count
        shared.unlock()

        let range = ThreadPool.range(
            part: context.workerIndex, of: shared.threadCount, count: count)
        if !range.isEmpty { job?(range, context.workerIndex) }
        // Drop the reference before reporting: the closure is only borrowed for the call
        // (`withoutActuallyEscaping`), and the caller checks that nothing holds it afterwards.
        job = nil

        shared.lock()
        shared.pendingWorkers -= 1
        shared.pendingMirror.store(shared.pendingWorkers, ordering: .releasing)
        if shared.pendingWorkers == 0 && shared.isCallerSleeping { shared.signalCompletion() }
        shared.unlock()
    }
}

extension ThreadPool {
    /// Runs `body` over `0..<count` split into ranges whose starts are multiples of 16 floats,
    /// for element-wise kernels. Below `grain` elements per thread the whole range runs
    /// inline, because waking workers costs more than the work.
    func parallelElements(_ count: Int, grain: Int = 16_384, _ body: (Range<Int>) -> Void) {
        let vectorCount = (count + 15) / 16
        let parts = min(threadCount, max(1, count / grain))
        if parts == 1 {
            if count > 0 { body(0..<count) }
            return
        }
        parallelFor(parts) { partRange in
            for part in partRange {
                let vectors = ThreadPool.range(part: part, of: parts, count: vectorCount)
                let range = (vectors.lowerBound * 16)..<min(vectors.upperBound * 16, count)
                if !range.isEmpty { body(range) }
            }
        }
    }
}
