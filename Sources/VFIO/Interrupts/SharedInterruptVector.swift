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

/// One interrupt vector serving several queues, as when a device grants fewer MSI-X vectors than
/// it has queues (QEMU's `msix_qsize`, or a controller short of vectors). The kernel registers a
/// handler per queue on such a vector and calls every one on each message; this does the same for
/// waiters that sleep in userspace.
///
/// A message on a shared vector may announce work in any of its queues (one message can cover
/// several, with coalescing), so no waiter can tell that a message was its own. Each sharing
/// queue therefore gets its own eventfd (`Member.wakeEventFD`) and sleeps on it *and* on the
/// vector's; the waiter that drains the vector's eventfd hands the message on by signalling every
/// member's eventfd (`handOn()`), its own included, then looks at its own queue only. A message
/// is never consumed without reaching every member, and a member is woken at most once per
/// hand-on, so nobody spins on a message meant for another.
///
/// Masking is by vote: a hybrid waiter that polls asks for the vector to be masked, and it is
/// masked only while every member polls. Masking it for one would silence the others' queues.
public final class SharedInterruptVector: Sendable {
    /// The vector's number (its MSI-X table entry).
    public let vector: Int
    /// The vector's eventfd, borrowed from the device (valid until it disables its interrupts,
    /// which its users make sure happens after the last member is gone).
    public let eventFD: Int32
    let setMasked: @Sendable (Bool) -> Void
    let state = TSanVisibleMutex(State())

    struct State {
        /// Every member's wake eventfd; signalled under the lock, so that a member leaving cannot
        /// close its descriptor (which the process could then reuse) while it is being signalled.
        var members: [Int32] = []
        /// Members whose hybrid wait polls now and asks for the vector to be masked.
        var polling: Set<Int32> = []
        var masked = false
    }

    /// `setMasked` masks or unmasks the vector on the device (`PCIFunction.setInterruptMasked`);
    /// it is called with the member list locked, so votes and mask changes happen in one order.
    public init(vector: Int, eventFD: Int32, setMasked: @escaping @Sendable (Bool) -> Void) {
        self.vector = vector
        self.eventFD = eventFD
        self.setMasked = setMasked
    }

    /// Adds a member with a new wake eventfd. It stays a member until the returned value is dropped.
    public func join() throws(VFIOError) -> Member {
        let wake = try EventFD()
        let fd = wake.rawValue
        state.withLock { $0.members.append(fd) }
        // A member that does not poll: the vector must not stay masked for it.
        vote(fd, polling: false)
        return Member(vector: self, wake: wake)
    }

    /// Members now.
    public var memberCount: Int { state.withLock { $0.members.count } }

    /// Drains the vector's eventfd and, if it held a message, signals every member's wake
    /// eventfd. Returns the messages drained (0: nothing to hand on).
    @discardableResult
    public func handOn() -> UInt64 {
        // Cheap when another waiter got there first: one non-blocking read that finds nothing.
        let messages = EventFD.drain(eventFD)
        guard messages != 0 else { return 0 }
        state.withLock { s in
            for fd in s.members { EventFD.signal(fd) }
        }
        return messages
    }

    /// A member's hybrid wait starts (`true`) or ends (`false`) a polling phase.
    func vote(_ member: Int32, polling: Bool) {
        state.withLock { s in
            if polling { s.polling.insert(member) } else { s.polling.remove(member) }
            apply(&s)
        }
    }

    func leave(_ member: Int32) {
        state.withLock { s in
            s.members.removeAll { $0 == member }
            s.polling.remove(member)
            apply(&s)
        }
    }

    /// Masked exactly while there are members and all of them poll.
    private func apply(_ s: inout State) {
        let mask = !s.members.isEmpty && s.polling.count == s.members.count
        guard mask != s.masked else { return }
        s.masked = mask
        setMasked(mask)
    }

    /// One queue's share of the vector: its wake eventfd, which the vector's `handOn()` signals.
    /// `~Copyable`: dropping it leaves the vector before the eventfd is closed.
    public struct Member: ~Copyable, Sendable {
        public let vector: SharedInterruptVector
        let wake: EventFD

        init(vector: SharedInterruptVector, wake: consuming EventFD) {
            self.vector = vector
            self.wake = wake
        }

        deinit { vector.leave(wake.rawValue) }

        /// What this member's waiter sleeps on (with `vector.eventFD`) and drains.
        public var wakeEventFD: Int32 { wake.rawValue }

        /// The vector's `handOn()`: what a waiter calls before draining its own `wakeEventFD`.
        @discardableResult
        public func handOn() -> UInt64 { vector.handOn() }

        /// Masks the vector once every member polls (a hybrid polling phase starts).
        public func startPolling() { vector.vote(wake.rawValue, polling: true) }

        /// Lets the vector signal again (a hybrid polling phase ends).
        public func stopPolling() { vector.vote(wake.rawValue, polling: false) }
    }
}
