import Engine
import Foundation
import Synchronization
import Testing

/// An array that worker threads append to under an `NSLock`. `Synchronization.Mutex` would
/// do the same job, but it locks with futex calls that ThreadSanitizer does not intercept,
/// so TSan reports its accesses as data races. `NSLock` wraps a pthread mutex, whose lock
/// and unlock calls TSan intercepts.
final class LockedArray<Element>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Element] = []

    func append(_ element: Element) {
        lock.lock()
        storage.append(element)
        lock.unlock()
    }

    var elements: [Element] {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
}

@Test(arguments: [1, 2, 3, 5])
func parallelForVisitsEveryIndexOnce(threads: Int) {
    let pool = ThreadPool(threads: threads)
    for count in [0, 1, 2, 3, 7, 64, 1000] {
        let visits = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
        visits.initialize(repeating: 0, count: max(count, 1))
        defer { visits.deallocate() }
        let ranges = LockedArray<Range<Int>>()
        pool.parallelFor(count) { range in
            ranges.append(range)
            for i in range { visits[i] += 1 }
        }
        let visitCounts = (0..<count).map { visits[$0] }
        #expect(visitCounts.allSatisfy { $0 == 1 }, "count \(count): visits \(visitCounts)")
        // The ranges must be the static split, so a kernel's partition depends only on count.
        let expected = (0..<threads).map { ThreadPool.range(part: $0, of: threads, count: count) }
            .filter { !$0.isEmpty }
        let observed = ranges.elements.sorted { $0.lowerBound < $1.lowerBound }
        if count > 1 {
            #expect(observed == expected, "count \(count)")
        }
    }
}

@Test func parallelForThreadIndicesAreDistinct() {
    let pool = ThreadPool(threads: 3)
    let seen = LockedArray<Int>()
    pool.parallelFor(30, withThreadIndex: { _, thread in seen.append(thread) })
    #expect(seen.elements.sorted() == [0, 1, 2])
}

@Test func parallelForRunsManyCallsAndPoolsShutDown() {
    // Thousands of short calls exercise the wake-up and completion handshake, and creating
    // and dropping pools checks that deinit joins its workers instead of hanging.
    let total = Atomic<Int>(0)
    for _ in 0..<20 {
        let pool = ThreadPool(threads: 3)
        for _ in 0..<500 {
            pool.parallelFor(9) { range in total.add(range.count, ordering: .relaxed) }
        }
    }
    #expect(total.load(ordering: .relaxed) == 20 * 500 * 9)
}

@Test func parallelForWorksFromAnotherThread() async {
    let pool = ThreadPool(threads: 2)
    let total = Atomic<Int>(0)
    pool.parallelFor(10) { range in total.add(range.count, ordering: .relaxed) }
    await Task.detached {
        pool.parallelFor(10) { range in total.add(range.count, ordering: .relaxed) }
    }.value
    // Two threads calling at once: their calls take turns on the pool.
    let done = DispatchGroup()
    for _ in 0..<2 {
        done.enter()
        let caller = Thread {
            for _ in 0..<100 {
                pool.parallelFor(10) { range in total.add(range.count, ordering: .relaxed) }
            }
            done.leave()
        }
        caller.start()
    }
    done.wait()
    #expect(total.load(ordering: .relaxed) == 20 + 2 * 100 * 10)
}
