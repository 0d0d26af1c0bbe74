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
import NVMe
import VFIO

/// What a server run did, for the summary line and `--json`: totals, and a report per
/// connection that ended (in the order they ended).
public struct TargetServerSummary: Sendable, Equatable {
    public var connectionsAccepted = 0
    /// Every closed connection's counters added up.
    public var totals = ConnectionStatistics()
    /// Connections the target terminated with a C2HTermReq.
    public var terminations = 0
    /// The first `reportLimit` connections' reports; a long-running target whose hosts reconnect
    /// keeps counting in `totals` and `reportsNotKept`, but its memory stays bounded.
    public var connections: [ConnectionReport] = []
    public var reportsNotKept = 0
    public static var reportLimit: Int { 4096 }
    public init() {}

    mutating func record(_ report: ConnectionReport) {
        totals.add(report.statistics)
        if report.terminated { terminations += 1 }
        if connections.count < Self.reportLimit {
            connections.append(report)
        } else {
            reportsNotKept += 1
        }
    }
}

/// Serves an engine over TCP: one thread, one epoll set (the listening socket, the stop eventfd,
/// every connection), level-triggered, non-blocking sockets.
///
/// **Why epoll and not swift-nio.** The engine frames PDUs in place in each connection's receive
/// buffer and copies write data once, into the DMA buffer the device reads; `recv` fills that
/// buffer directly. Through NIO, data would arrive in NIO's `ByteBuffer`s (reference-counted,
/// allocated per read) and be copied again, and the loop could not poll the backend's completion
/// queue between socket events without a task per turn. The loop here waits in `epoll_wait` with
/// a zero timeout while the backend has commands in flight (poll mode) and sleeps when it has none.
/// The measurements and the trade-off are in docs/nvme-tcp-target.md.
public struct TargetServer<Device: PCIFunction>: ~Copyable {
    var engine: TargetEngine<Device>
    let listener: TCPListener
    /// Per engine connection index: its socket (-1 when none) and what epoll watches it for.
    var sockets: [Int32] = []
    var ids: [ConnectionID?] = []
    /// Per connection index: the host's address, for the report.
    var peers: [String?] = []
    var watching: [(read: Bool, write: Bool)] = []
    public private(set) var summary = TargetServerSummary()
    /// Called with one line per connection event (accept, close and why).
    let log: (String) -> Void

    static var listenerTag: UInt64 { 0 }
    static var stopTag: UInt64 { 1 }
    static var firstConnectionTag: UInt64 { 2 }

    public init(engine: consuming TargetEngine<Device>, listener: consuming TCPListener, log: @escaping (String) -> Void = { _ in }) {
        self.engine = engine
        self.listener = listener
        self.log = log
    }

    public var address: ListenAddress { listener.address }

    /// Serves until `stopFD` (an eventfd) becomes readable, then shuts down gracefully: stops
    /// accepting, closes every connection, and waits (up to `drainMilliseconds`) for the backend
    /// commands still in flight, so no DMA buffer is given back while the device may write it.
    ///
    /// Specialized here for `VFIODevice`, the device a deployed target serves: compiled only
    /// generically in this module, every backend call of the loop (submit, reap, the device's
    /// `service()`) went through witness tables, which cost `vfioctl nvme perf`'s loop 2.8x its
    /// specialized instructions per I/O (docs/performance.md). Other devices (the emulated
    /// controller, tests) run the generic code.
    @_specialize(exported: true, where Device == VFIODevice)
    public mutating func run(stopFD: Int32, drainMilliseconds: Int = 5000) throws(TargetError) {
        let waiter = try Self.watching(listener: listener.descriptor, stop: stopFD)
        var tags = [UInt64](repeating: 0, count: 64)
        var lastTick: UInt64 = 0
        var stopping = false
        while !stopping {
            // Poll mode: while the backend has work, look again at once; else sleep on the sockets.
            let timeout: Int32 = engine.outstanding > 0 ? 0 : 100
            let n: Int
            do {
                n = try tags.withUnsafeMutableBufferPointer { buffer throws(VFIOError) in
                    try waiter.wait(into: buffer, timeoutMilliseconds: timeout)
                }
            } catch { throw Self.socketError(error) }
            for i in 0..<n {
                switch tags[i] {
                case Self.listenerTag: try acceptAll(waiter)
                case Self.stopTag: stopping = true
                default: service(Int(tags[i] - Self.firstConnectionTag))
                }
            }
            do { _ = try engine.poll() } catch { throw .backend("\(error)") }
            let now = MonotonicClock.coarseNanoseconds()
            if now &- lastTick > 100_000_000 {
                engine.tick(now: now)
                lastTick = now
            }
            for index in sockets.indices where sockets[index] >= 0 { flush(index, waiter) }
        }
        shutdown(drainMilliseconds: drainMilliseconds)
    }

    /// The loop's epoll set, watching the listening socket and the stop eventfd.
    static func watching(listener: Int32, stop: Int32) throws(TargetError) -> InterruptWaiter {
        do {
            let waiter = try InterruptWaiter()
            try waiter.add(descriptor: listener, tag: listenerTag)
            try waiter.add(descriptor: stop, tag: stopTag)
            return waiter
        } catch { throw socketError(error) }
    }

    /// The epoll calls fail with VFIO's error; the target reports them as the socket layer's.
    static func socketError(_ error: VFIOError) -> TargetError {
        if case .system(let operation, let errno) = error { return .socket(operation, errno: errno) }
        return .socket(error.description, errno: 0)
    }

    mutating func acceptAll(_ waiter: borrowing InterruptWaiter) throws(TargetError) {
        while let fd = try listener.accept() {
            let id = engine.openConnection(localAddress: ListenAddress(localOf: fd))
            while sockets.count <= id.index {
                sockets.append(-1)
                ids.append(nil)
                peers.append(nil)
                watching.append((false, false))
            }
            sockets[id.index] = fd
            ids[id.index] = id
            peers[id.index] = ListenAddress(peerOf: fd)?.description
            watching[id.index] = (true, false)
            do {
                try waiter.add(descriptor: fd, tag: Self.firstConnectionTag + UInt64(id.index))
            } catch {
                closeSocket(id.index, reason: "could not watch the connection: \(error)")
                continue
            }
            summary.connectionsAccepted += 1
            log("connection \(id.index): accepted from \(peers[id.index] ?? "?")")
        }
    }

    /// A connection's socket is ready: read what the engine takes (it frames and handles as it goes).
    mutating func service(_ index: Int) {
        guard index >= 0, index < sockets.count, sockets[index] >= 0, let id = ids[index] else { return }
        let fd = sockets[index]
        if !engine.wantsInput(id) {
            // Woken without wanting input: output room (handled by flush), or a hang-up that
            // level-triggered epoll reports whatever we asked for.
            if engine.pendingOutput(id) == 0, SocketIO.peerClosed(fd) { closeSocket(index, reason: "host closed the connection") }
            return
        }
        while engine.wantsInput(id) {
            let space = engine.receiveSpace(id)
            switch SocketIO.receive(fd, into: space) {
            case .bytes(let count):
                engine.didReceive(id, count: count)
                if count < space.count { return }
            case .wouldBlock:
                return
            case .closed(let e):
                closeSocket(index, reason: e == 0 ? "host closed the connection" : "connection error: \(VFIOError.errnoText(e))")
                return
            }
        }
    }

    /// Sends what the engine has for the connection, closes it when the engine is done with it,
    /// and makes epoll watch for what the connection waits for.
    mutating func flush(_ index: Int, _ waiter: borrowing InterruptWaiter) {
        guard let id = ids[index] else { return }
        let fd = sockets[index]
        var failed: Int32?
        engine.send(id) { bytes in
            switch SocketIO.send(fd, bytes) {
            case .bytes(let n): return n
            case .wouldBlock: return 0
            case .closed(let e):
                failed = e
                return 0
            }
        }
        if let failed {
            closeSocket(index, reason: "send failed: \(VFIOError.errnoText(failed))")
            return
        }
        if engine.shouldClose(id) {
            closeSocket(index, reason: engine.closeReason(id) ?? "closed")
            return
        }
        let want = (read: engine.wantsInput(id), write: engine.pendingOutput(id) > 0)
        if want != watching[index] {
            // A failed change leaves the old interest: the connection is served on later turns.
            if (try? waiter.modify(descriptor: fd, tag: Self.firstConnectionTag + UInt64(index), read: want.read, write: want.write)) != nil {
                watching[index] = want
            }
        }
    }

    /// Closes connection `index`'s socket and records its report, whose reason is `reason`.
    mutating func closeSocket(_ index: Int, reason: String) {
        guard let id = ids[index] else { return }
        var report = engine.report(id, peer: peers[index])
        report?.closeReason = reason
        engine.closeConnection(id)
        close(sockets[index])
        sockets[index] = -1
        ids[index] = nil
        guard let report else {
            log("connection \(index): \(reason)")
            return
        }
        summary.record(report)
        log("connection \(index): \(reason); \(report.summaryLine)")
    }

    mutating func shutdown(drainMilliseconds: Int) {
        for index in sockets.indices where sockets[index] >= 0 { closeSocket(index, reason: "target shutting down") }
        let deadline = MonotonicClock.nanoseconds() + UInt64(max(0, drainMilliseconds)) * 1_000_000
        while engine.outstanding > 0, MonotonicClock.nanoseconds() < deadline {
            _ = try? engine.poll()
        }
    }

    /// Commands still in the backend (nonzero after `run` only if the drain timed out).
    public var outstanding: Int { engine.outstanding }

    /// The backend queue pair's counters.
    public var backendStatistics: QueueStatistics { engine.backendStatistics }
}
