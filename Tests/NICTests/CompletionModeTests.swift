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

/// Receive and transmit waits in each completion mode, against the threaded emulated NIC (its
/// own thread writes frames and raises MSI-X messages, as a real device would).
@Suite(.enabled(if: EmulatedE1000E.unavailableReason == nil, "the emulated e1000e cannot run in this process (ThreadSanitizer, or not x86-64)")) struct CompletionModeTests {
    static let modes: [CompletionMode] = [.poll, .interrupt, .hybrid(idlePolls: 200)]

    @Test(arguments: modes)
    func framesArrivingLaterAreReceivedInEachMode(_ mode: CompletionMode) throws {
        let rig = try Rig(configuration: EmulatedE1000EConfiguration(mode: .threaded))
        defer { rig.device.close() }
        var rx = try rig.nic.makeReceiveQueue()
        let device = rig.device
        let mac = rig.nic.macAddress
        // Frames come after the receiver has gone to sleep (or started polling). In the
        // interrupt modes, wait until the driver has armed its cause (IMS) first: a fixed delay
        // alone let a loaded machine deliver the frames before the first wait, so nothing slept.
        let waitForArm = mode.kind != .poll
        DispatchQueue.global().async {
            if waitForArm {
                let until = DispatchTime.now() + .seconds(5)
                while device.peekRegister(E1000ERegister.interruptMaskSet.offset) == 0 && DispatchTime.now() < until {
                    usleep(200)
                }
            }
            usleep(30_000)
            for i in 0..<8 { device.inject(frame: Frames.make(to: mac, sequence: UInt32(i))) }
        }
        var seen: [UInt32] = []
        let deadline = DispatchTime.now() + .seconds(5)
        while seen.count < 8 && DispatchTime.now() < deadline {
            _ = try rx.receive(batch: 32, mode: mode, timeoutMilliseconds: 500) { p in
                #expect(Frames.isIntact(p.bytes, to: mac))
                seen.append(Frames.sequence(of: p.bytes) ?? .max)
            }
        }
        #expect(seen == Array(0..<8))
        let waits = rx.statistics.interrupts
        switch mode.kind {
        case .poll:
            #expect(waits.wakeups == 0 && waits.rearms == 0)
        case .interrupt:
            #expect(waits.wakeups >= 1)
            #expect(waits.interrupts >= 1)
        case .hybrid:
            #expect(waits.wakeups >= 1)
            #expect(waits.pollingPhases >= 1)
        }
    }

    @Test(arguments: modes)
    func transmitFlushWaitsForEveryDescriptorInEachMode(_ mode: CompletionMode) throws {
        let rig = try Rig(configuration: EmulatedE1000EConfiguration(mode: .threaded))
        defer { rig.device.close() }
        var tx = try rig.nic.makeTransmitQueue()
        let peer = MACAddress(0x02, 0, 0, 0, 0, 9)
        let device = rig.device
        for round in 0..<4 {
            // The first round's frames wait for the flush to go to sleep (or poll a while): a
            // device thread that finished them before the first look made nothing wait, and
            // the interrupt modes then never armed (seen under load in CI).
            if round == 0 {
                device.holdTransmissions(true)
                let waitForArm = mode.kind != .poll
                DispatchQueue.global().async {
                    let cause = InterruptCause.transmitQueue(0).rawValue | InterruptCause.transmitDescriptorWritten.rawValue
                    let until = DispatchTime.now() + .seconds(5)
                    while waitForArm && device.peekRegister(E1000ERegister.interruptMaskSet.offset) & cause == 0
                        && DispatchTime.now() < until {
                        usleep(200)
                    }
                    usleep(10_000)
                    device.holdTransmissions(false)
                }
            }
            let sent = try tx.send(count: 16) { i, b in Frames.fill(b, to: peer, sequence: UInt32(round * 16 + i)) }
            #expect(sent == 16)
            try tx.flush(mode: mode, timeoutMilliseconds: 2000)
            check(tx.outstandingDescriptors == 0)
        }
        check(tx.statistics.reclaimed == 64)
        // DD means the device has read the buffer; the frame reaches the wire just after.
        var frames: [TransmittedFrame] = []
        let deadline = DispatchTime.now() + .seconds(2)
        while frames.count < 64 && DispatchTime.now() < deadline { frames += rig.device.takeTransmittedFrames() }
        #expect(frames.count == 64)
        if mode.kind != .poll { #expect(tx.statistics.interrupts.rearms >= 1) }
    }

    @Test func hybridModeMasksTheCauseWhilePollingAndRearmsWhenIdle() throws {
        let rig = try Rig(configuration: EmulatedE1000EConfiguration(mode: .threaded))
        defer { rig.device.close() }
        var rx = try rig.nic.makeReceiveQueue()
        let device = rig.device
        let mac = rig.nic.macAddress
        let mode = CompletionMode.hybrid(idlePolls: 50)
        // The frame must arrive while the receiver sleeps: sent once the driver has armed RXQ0
        // (IMS) and had time to go to sleep. A loaded machine can still deliver it between the
        // arm and the sleep (the look after the arm takes it, the cause stays armed, correctly);
        // then the attempt is made again, so the test never depends on the scheduler.
        var woken = false
        for attempt in 0..<20 where !woken {
            let before = rx.statistics.interrupts.wakeups
            DispatchQueue.global().async {
                let until = DispatchTime.now() + .seconds(5)
                while !InterruptCause(rawValue: device.peekRegister(E1000ERegister.interruptMaskSet.offset)).contains(.receiveQueue0)
                    && DispatchTime.now() < until {
                    usleep(200)
                }
                usleep(30_000)
                device.inject(frame: Frames.make(to: mac, sequence: UInt32(attempt)))
            }
            var n = 0
            let deadline = DispatchTime.now() + .seconds(5)
            while n == 0 && DispatchTime.now() < deadline {
                n += try rx.receive(mode: mode, timeoutMilliseconds: 500) { _ in }
            }
            #expect(n == 1)
            woken = rx.statistics.interrupts.wakeups > before
        }
        #expect(woken)
        // Woken by the interrupt: polling now, the RXQ0 cause masked.
        let ims = InterruptCause(rawValue: device.peekRegister(E1000ERegister.interruptMaskSet.offset))
        #expect(!ims.contains(.receiveQueue0))
        // Nothing more arrives: after the idle budget the cause is armed again before sleeping.
        check(try rx.receive(mode: mode, timeoutMilliseconds: 20) { _ in } == 0)
        let armed = InterruptCause(rawValue: device.peekRegister(E1000ERegister.interruptMaskSet.offset))
        #expect(armed.contains(.receiveQueue0))
    }

    @Test func interruptsWithinTheThrottleGapAreCoalescedIntoOne() throws {
        var options = NICOptions()
        options.interruptThrottleNanoseconds = 200_000
        let rig = try Rig(options, configuration: EmulatedE1000EConfiguration(mode: .stepped, clock: .manual))
        var rx = try rig.nic.makeReceiveQueue()
        let mac = rig.nic.macAddress
        let device = rig.device
        // Arm the RXQ0 cause (a zero-timeout wait arms and returns).
        check(try rx.receive(mode: .interrupt, timeoutMilliseconds: 0) { _ in } == 0)
        device.inject(frame: Frames.make(to: mac, sequence: 0))
        device.service()
        #expect(device.statistics.interruptsSignalled == 1)
        let got = try rx.receive(mode: .interrupt, timeoutMilliseconds: 0) { _ in }
        check(got == 1)
        check(try rx.receive(mode: .interrupt, timeoutMilliseconds: 0) { _ in } == 0)  // re-arms
        // Three more frames inside the 200 us gap: held, not signalled.
        for i in 1...3 { device.inject(frame: Frames.make(to: mac, sequence: UInt32(i))) }
        device.service()
        device.advanceClock(nanoseconds: 100_000)
        device.service()
        #expect(device.statistics.interruptsSignalled == 1)
        #expect(device.statistics.interruptsThrottled >= 1)
        // The gap ends: one message for all three.
        device.advanceClock(nanoseconds: 100_000)
        device.service()
        #expect(device.statistics.interruptsSignalled == 2)
        check(try rx.receive(batch: 32, mode: .interrupt, timeoutMilliseconds: 0) { _ in } == 3)
        // The next wait re-arms and drains: two messages in all for four frames.
        check(try rx.receive(mode: .interrupt, timeoutMilliseconds: 0) { _ in } == 0)
        check(rx.statistics.interrupts.interrupts == 2)
        #expect(device.peekRegister(E1000ERegister.vectorThrottle(0).offset) == UInt32(200_000 / 256))
    }

    @Test(arguments: [CompletionMode.interrupt, .hybrid(idlePolls: 100)])
    func withoutMSIXQueuesShareOneINTxVector(_ mode: CompletionMode) throws {
        // The emulated function offers INTx besides MSI-X; ask for it by hiding MSI-X.
        let device = try SingleVectorDevice(EmulatedE1000E(configuration: EmulatedE1000EConfiguration(mode: .threaded)))
        defer { device.inner.close() }
        let nic = try E1000E(device: device)
        #expect(nic.interruptKind == .intx && nic.interruptVectors == 1)
        var rx = try nic.makeReceiveQueue()
        var tx = try nic.makeTransmitQueue()
        let mac = nic.macAddress
        device.inner.loopback = true
        var received = 0
        for round in 0..<3 {
            let inner = device.inner
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(20)) {
                for i in 0..<4 { inner.inject(frame: Frames.make(to: mac, sequence: UInt32(round * 4 + i))) }
            }
            let deadline = DispatchTime.now() + .seconds(5)
            var got = 0
            while got < 4 && DispatchTime.now() < deadline {
                got += try rx.receive(mode: mode, timeoutMilliseconds: 500) { p in #expect(Frames.isIntact(p.bytes, to: mac)) }
            }
            received += got
            _ = try tx.send(count: 2) { i, b in Frames.fill(b, to: MACAddress(0x02, 0, 0, 0, 0, 9), sequence: UInt32(i)) }
            try tx.flush(mode: mode, timeoutMilliseconds: 2000)
        }
        #expect(received == 12)
        check(rx.statistics.interrupts.wakeups >= 1)
        // RXT0 and TXDW are the causes on a shared vector; nothing was routed through IVAR.
        #expect(device.inner.peekRegister(E1000ERegister.interruptVectorAllocation.offset) == 0)
        #expect(device.inner.statistics.interruptsSignalled >= 3)
    }
}

/// An emulated NIC that hides its MSI-X capability, so the driver falls back to INTx.
final class SingleVectorDevice: PCIFunction {
    let inner: EmulatedE1000E
    init(_ inner: EmulatedE1000E) { self.inner = inner }
    var name: String { inner.name }
    func readConfig32(at offset: Int) throws(VFIOError) -> UInt32 { try inner.readConfig32(at: offset) }
    func writeConfig32(_ value: UInt32, at offset: Int) throws(VFIOError) { try inner.writeConfig32(value, at: offset) }
    func readConfig16(at offset: Int) throws(VFIOError) -> UInt16 { try inner.readConfig16(at: offset) }
    func writeConfig16(_ value: UInt16, at offset: Int) throws(VFIOError) { try inner.writeConfig16(value, at: offset) }
    func enableBusMaster() throws(VFIOError) { try inner.enableBusMaster() }
    func region(bar: Int) throws(VFIOError) -> MMIORegion { try inner.region(bar: bar) }
    var dma: DMAAllocator { inner.dma }
    var numaNode: Int? { inner.numaNode }
    func interruptCount(_ kind: InterruptKind) -> Int { kind == .msix ? 0 : inner.interruptCount(kind) }
    func enableInterrupts(_ kind: InterruptKind, count: Int) throws(VFIOError) { try inner.enableInterrupts(kind, count: count) }
    func disableInterrupts() throws(VFIOError) { try inner.disableInterrupts() }
    func interruptEventFD(vector: Int) -> Int32? { inner.interruptEventFD(vector: vector) }
    var removalRequestEventFD: Int32? { inner.removalRequestEventFD }
    func setInterruptMasked(vector: Int, _ masked: Bool) { inner.setInterruptMasked(vector: vector, masked) }
    func unmaskINTx() throws(VFIOError) { try inner.unmaskINTx() }
    func reset() throws(VFIOError) { try inner.reset() }
    func service() { inner.service() }
}
