//===----------------------------------------------------------------------===//
//
// This source file is part of the swift-vfio open source project
//
// Copyright (c) 2026 the swift-vfio project authors
// Licensed under Apache License v2.0
//
// See LICENSE.txt for license information
//
// SPDX-License-Identifier: Apache-2.0
//
//===----------------------------------------------------------------------===//

#if canImport(Glibc)
import Glibc
#endif
import CShims
import Testing
import VFIO

@Suite struct EventFDTests {
    @Test func signalWakesTheWaiterAndDrainResetsTheCounter() throws {
        let event = try EventFD()
        let idle = event.wait(timeoutMilliseconds: 0)
        #expect(!idle)
        event.signal()
        let woken = event.wait(timeoutMilliseconds: 1000)
        #expect(woken)
        let count = event.drain()
        #expect(count == 1)
        let idleAgain = event.wait(timeoutMilliseconds: 0)
        #expect(!idleAgain)
        let none = event.drain()
        #expect(none == 0, "draining an idle eventfd must not block or invent signals")
    }

    /// `VFIODevice` and the emulated functions drop a vector table to close its eventfds: the
    /// descriptors must be shut when the last reference goes, and not before.
    @Test func vectorEventFDsCloseWhenTheLastReferenceGoes() throws {
        var vectors: [VectorEventFD]? = try VectorEventFD.make(count: 3, for: "a test")
        let fds = vectors!.map(\.rawValue)
        #expect(Set(fds).count == 3)
        let kept = vectors![1]
        vectors = nil
        #expect(fcntl(fds[0], F_GETFD) == -1 && errno == EBADF, "vector 0's eventfd is still open")
        #expect(fcntl(fds[2], F_GETFD) == -1 && errno == EBADF, "vector 2's eventfd is still open")
        #expect(fcntl(fds[1], F_GETFD) >= 0, "vector 1's eventfd closed while still referenced")
        kept.eventFD.signal()
        #expect(EventFD.drain(kept.rawValue) == 1)
    }

    @Test func signalsAccumulateUntilDrained() throws {
        let event = try EventFD()
        for _ in 0..<3 { event.signal() }
        let count = event.drain()
        #expect(count == 3)
    }

    @Test func waitTimesOutAfterRoughlyItsTimeout() throws {
        let event = try EventFD()
        let clock = ContinuousClock()
        let start = clock.now
        let fired = event.wait(timeoutMilliseconds: 30)
        #expect(!fired)
        #expect(clock.now - start >= .milliseconds(25))
    }
}

@Suite struct InterruptWaiterTests {
    @Test func waitReturnsTheTagsOfTheVectorsThatFired() throws {
        let a = try EventFD(), b = try EventFD(), c = try EventFD()
        let waiter = try InterruptWaiter()
        try waiter.add(descriptor: a.rawValue, tag: 10)
        try waiter.add(descriptor: b.rawValue, tag: 11)
        try waiter.add(descriptor: c.rawValue, tag: 12)
        var tags = [UInt64](repeating: 0, count: 8)
        b.signal()
        var n = try tags.withUnsafeMutableBufferPointer { buffer throws(VFIOError) in try waiter.wait(into: buffer, timeoutMilliseconds: 1000) }
        #expect(Array(tags.prefix(n)) == [11])
        // Not drained: level-triggered, it fires again until the bottom half drains it.
        n = try tags.withUnsafeMutableBufferPointer { buffer throws(VFIOError) in try waiter.wait(into: buffer, timeoutMilliseconds: 0) }
        #expect(Array(tags.prefix(n)) == [11])
        let drained = b.drain()
        #expect(drained == 1)
        a.signal()
        c.signal()
        n = try tags.withUnsafeMutableBufferPointer { buffer throws(VFIOError) in try waiter.wait(into: buffer, timeoutMilliseconds: 1000) }
        #expect(Set(tags.prefix(n)) == [10, 12])
    }

    @Test func waitTimesOutWithNoTags() throws {
        let event = try EventFD()
        let waiter = try InterruptWaiter()
        try waiter.add(descriptor: event.rawValue, tag: 1)
        var tags = [UInt64](repeating: 0, count: 4)
        let n = try tags.withUnsafeMutableBufferPointer { buffer throws(VFIOError) in try waiter.wait(into: buffer, timeoutMilliseconds: 20) }
        #expect(n == 0)
    }

    @Test func removedEventFDIsNoLongerReported() throws {
        let event = try EventFD()
        let waiter = try InterruptWaiter()
        try waiter.add(descriptor: event.rawValue, tag: 7)
        try waiter.remove(descriptor: event.rawValue)
        event.signal()
        var tags = [UInt64](repeating: 0, count: 4)
        let n = try tags.withUnsafeMutableBufferPointer { buffer throws(VFIOError) in try waiter.wait(into: buffer, timeoutMilliseconds: 10) }
        #expect(n == 0)
    }

    /// A plain thread signals (the interrupt's side); Swift concurrency's pool is not used, so a
    /// busy pool cannot starve the signaller while this thread sleeps in epoll_wait.
    @Test func signalFromAnotherThreadWakesABlockedWait() throws {
        let event = try EventFD()
        let waiter = try InterruptWaiter()
        try waiter.add(descriptor: event.rawValue, tag: 3)
        var thread = pthread_t()
        let argument = UnsafeMutableRawPointer(bitPattern: Int(event.rawValue) + 1)
        let created = pthread_create(&thread, nil, { argument in
            usleep(20_000)
            _ = shim_eventfd_signal(Int32(Int(bitPattern: argument) - 1))
            return nil
        }, argument)
        try #require(created == 0)
        var tags = [UInt64](repeating: 0, count: 4)
        let n = try tags.withUnsafeMutableBufferPointer { buffer throws(VFIOError) in try waiter.wait(into: buffer, timeoutMilliseconds: 5000) }
        pthread_join(thread, nil)
        #expect(Array(tags.prefix(n)) == [3])
    }

    /// The TCP target's loop asks for room to send only while output is backed up; with nothing
    /// to send, a writable socket must not wake the waiter on every turn.
    @Test func modifyDecidesWhetherRoomForOutputWakesTheWaiter() throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let waiter = try InterruptWaiter()
        try waiter.add(descriptor: fds[1], tag: 5)  // the write end never has input
        var tags = [UInt64](repeating: 0, count: 4)
        var n = try tags.withUnsafeMutableBufferPointer { buffer throws(VFIOError) in try waiter.wait(into: buffer, timeoutMilliseconds: 10) }
        #expect(n == 0)
        try waiter.modify(descriptor: fds[1], tag: 6, read: false, write: true)
        n = try tags.withUnsafeMutableBufferPointer { buffer throws(VFIOError) in try waiter.wait(into: buffer, timeoutMilliseconds: 5000) }
        #expect(Array(tags.prefix(n)) == [6])
        try waiter.modify(descriptor: fds[1], tag: 6, read: true, write: false)
        n = try tags.withUnsafeMutableBufferPointer { buffer throws(VFIOError) in try waiter.wait(into: buffer, timeoutMilliseconds: 10) }
        #expect(n == 0)
    }

    @Test func addingADeadDescriptorFailsWithErrno() throws {
        let waiter = try InterruptWaiter()
        #expect(throws: VFIOError.self) { try waiter.add(descriptor: 1_000_000, tag: 0) }
    }
}
