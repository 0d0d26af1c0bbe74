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

import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import NIC
import NICEmulator
import NetFrames
import Testing
import VFIO
import VFIOTestSupport

/// The NIC goes away mid-traffic (issue 17): the emulated 82574L leaves the bus (registers read
/// all ones, no DMA, the request interrupt fires) or the kernel only asks for it back. Receive
/// and flush waits end with `deviceRemoved` within a bound in every completion mode; frames the
/// device finished before stay delivered or reclaimed.
@Suite(.enabled(if: EmulatedE1000E.unavailableReason == nil, "the emulated e1000e cannot run in this process (ThreadSanitizer, or not x86-64)")) struct NICSurpriseRemovalTests {
    static let modes: [CompletionMode] = [.poll, .interrupt, .hybrid(idlePolls: 200)]
    static let boundMilliseconds: UInt64 = 1000

    /// Bounds stretch under sanitizers and heavy load as the NVMe tests' do (`SWIFT_VFIO_TEST_TIME_SCALE`).
    static func scaled(_ milliseconds: UInt64) -> UInt64 {
        milliseconds * (getenv("SWIFT_VFIO_TEST_TIME_SCALE").flatMap { UInt64(String(cString: $0)) }.map { max(1, $0) } ?? 1)
    }

    static func milliseconds(since start: UInt64) -> UInt64 { (MonotonicClock.nanoseconds() - start) / 1_000_000 }

    @Test(arguments: modes)
    func removalDuringReceiveEndsTheWaitWithDeviceRemovedInEachMode(_ mode: CompletionMode) throws {
        // The function leaves the bus as the 6th frame arrives: five are delivered, intact.
        let rig = try Rig(configuration: EmulatedE1000EConfiguration(mode: .threaded, faultPlan: NICFaultPlan(rules: [NICFaultRule(.receive, .nth(6), .surpriseRemoval)])))
        defer { rig.device.close() }
        var rx = try rig.nic.makeReceiveQueue()
        let mac = rig.nic.macAddress
        for i in 0..<10 { rig.device.inject(frame: Frames.make(to: mac, sequence: UInt32(i))) }
        let (seen, thrown, failingWait) = Self.receiveUntilRemoved(&rx, mode: mode, mac: mac)
        guard case .deviceRemoved(let name) = thrown else {
            Issue.record("expected deviceRemoved, got \(String(describing: thrown))")
            return
        }
        #expect(name == rig.device.name)
        #expect(seen == Array(0..<5))
        #expect(failingWait < Self.scaled(Self.boundMilliseconds), "the wait took \(failingWait) ms")
        print("NIC removal during receive in \(mode) mode noticed after \(failingWait) ms")
        _ = consume rx
        #expect(rig.device.dmaFaults.isEmpty)
    }

    /// Receives until the wait throws (or 10 s pass): the sequence numbers seen, the error, and
    /// how long the wait that threw took.
    static func receiveUntilRemoved<Device: PCIFunction>(
        _ rx: inout ReceiveQueue<Device>, mode: CompletionMode, mac: MACAddress
    ) -> (seen: [UInt32], thrown: NICError?, failingWaitMilliseconds: UInt64) {
        var seen: [UInt32] = []
        var thrown: NICError?
        var failingWait: UInt64 = 0
        let deadline = DispatchTime.now() + .seconds(10)
        while thrown == nil && DispatchTime.now() < deadline {
            let start = MonotonicClock.nanoseconds()
            do {
                _ = try rx.receive(batch: 32, mode: mode, timeoutMilliseconds: 5000) { p in
                    #expect(Frames.isIntact(p.bytes, to: mac))
                    seen.append(Frames.sequence(of: p.bytes) ?? .max)
                }
            } catch {
                thrown = error
                failingWait = milliseconds(since: start)
            }
        }
        return (seen, thrown, failingWait)
    }

    @Test(arguments: modes)
    func framesCompletedBeforeARemovalAreReceivedAfterItThenDeviceRemoved(_ mode: CompletionMode) throws {
        // Stepped: the function takes five frames and leaves the bus at the sixth before the
        // driver's first look.
        let rig = try Rig(configuration: EmulatedE1000EConfiguration(faultPlan: NICFaultPlan(rules: [NICFaultRule(.receive, .nth(6), .surpriseRemoval)])))
        defer { rig.device.close() }
        var rx = try rig.nic.makeReceiveQueue()
        let mac = rig.nic.macAddress
        for i in 0..<10 { rig.device.inject(frame: Frames.make(to: mac, sequence: UInt32(i))) }
        rig.device.service()
        #expect(try rig.device.readConfig32(at: 0) == .max, "the function left the bus")
        let (seen, thrown, _) = Self.receiveUntilRemoved(&rx, mode: mode, mac: mac)
        guard case .deviceRemoved = thrown else {
            Issue.record("expected deviceRemoved, got \(String(describing: thrown))")
            return
        }
        // Every frame written back before the removal, and none of those it never took.
        #expect(seen == Array(0..<5))
        _ = consume rx
        #expect(rig.device.dmaFaults.isEmpty)
    }

    @Test(arguments: modes)
    func framesLandingBetweenTheLastLookAndTheRemovalCheckAreReceived(_ mode: CompletionMode) throws {
        // The race of the reliability runs, forced: the device writes five frames back and
        // leaves the bus at the sixth after the driver's look found the ring empty and before
        // its idle check answered. The check takes them, and a later one throws.
        let inner = try EmulatedE1000E(configuration: EmulatedE1000EConfiguration(faultPlan: NICFaultPlan(rules: [NICFaultRule(.receive, .nth(6), .surpriseRemoval)])))
        defer { inner.close() }
        let device = DeviceLeavingAtTheRemovalCheck(inner)
        var options = NICOptions()
        options.linkWaitMilliseconds = 100
        let nic = try E1000E(device: device, options: options)
        var rx = try nic.makeReceiveQueue()
        let mac = nic.macAddress
        for i in 0..<10 { inner.inject(frame: Frames.make(to: mac, sequence: UInt32(i))) }
        device.holdUntilTheRemovalCheck { inner.service() }
        let (seen, thrown, _) = Self.receiveUntilRemoved(&rx, mode: mode, mac: mac)
        #expect(try inner.readConfig32(at: 0) == .max, "the function left the bus")
        guard case .deviceRemoved = thrown else {
            Issue.record("expected deviceRemoved, got \(String(describing: thrown))")
            return
        }
        #expect(seen == Array(0..<5))
        _ = consume rx
        #expect(inner.dmaFaults.isEmpty)
    }

    @Test(arguments: modes)
    func removalDuringTransmitEndsTheFlushWithDeviceRemovedInEachMode(_ mode: CompletionMode) throws {
        // The function leaves the bus as it sends the 21st frame.
        let rig = try Rig(configuration: EmulatedE1000EConfiguration(mode: .threaded, faultPlan: NICFaultPlan(rules: [NICFaultRule(.transmit, .nth(21), .surpriseRemoval)])))
        defer { rig.device.close() }
        var tx = try rig.nic.makeTransmitQueue()
        let mac = rig.nic.macAddress
        let queued = try tx.send(count: 64) { i, buffer in Frames.fill(buffer, to: mac, sequence: UInt32(i)) }
        #expect(queued == 64)
        let start = MonotonicClock.nanoseconds()
        var thrown: NICError?
        do { try tx.flush(mode: mode, timeoutMilliseconds: 5000) } catch { thrown = error }
        let ms = Self.milliseconds(since: start)
        guard case .deviceRemoved = thrown else {
            Issue.record("expected deviceRemoved, got \(String(describing: thrown))")
            return
        }
        #expect(ms < Self.scaled(Self.boundMilliseconds), "the flush took \(ms) ms")
        print("NIC removal during transmit in \(mode) mode noticed after \(ms) ms")
        // Only frames the device finished count as sent: the 20 before the removal at most.
        #expect(tx.statistics.reclaimed <= 20)
        #expect(rig.device.takeTransmittedFrames().count <= 20)
        #expect(tx.outstandingDescriptors > 0)
    }

    @Test func requestInterruptAloneEndsAnIdleReceiveWait() throws {
        let rig = try Rig(configuration: EmulatedE1000EConfiguration(mode: .threaded))
        defer { rig.device.close() }
        var rx = try rig.nic.makeReceiveQueue()
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(50)) { rig.device.requestRemoval() }
        let start = MonotonicClock.nanoseconds()
        var thrown: NICError?
        do { _ = try rx.receive(mode: .interrupt, timeoutMilliseconds: 5000) { _ in } } catch { thrown = error }
        let ms = Self.milliseconds(since: start)
        guard case .deviceRemoved = thrown else {
            Issue.record("expected deviceRemoved, got \(String(describing: thrown))")
            return
        }
        #expect(ms < Self.scaled(50 + Self.boundMilliseconds), "took \(ms) ms")
        // The device is still there: the registers still answer.
        #expect(rig.device.peekRegister(E1000ERegister.deviceStatus.offset) != .max)
    }

    @Test func removedNICReadsAllOnesAndSignalsTheRequest() throws {
        let rig = try Rig()
        defer { rig.device.close() }
        let fd = try #require(rig.device.removalRequestEventFD)
        #expect(!EventFD.isSignalled(fd))
        rig.device.simulateSurpriseRemoval()
        #expect(EventFD.isSignalled(fd))
        let registers = try rig.device.region(bar: 0)
        #expect(registers.read(E1000ERegister.deviceStatus).rawValue == .max)
        #expect(try rig.device.readConfig32(at: 0) == .max)
        // Injected frames go nowhere: a removed function masters nothing.
        #expect(rig.device.inject(frame: Frames.make(to: rig.nic.macAddress, sequence: 1)))
        rig.device.service()
        #expect(rig.device.dmaFaults.isEmpty)
    }
}
