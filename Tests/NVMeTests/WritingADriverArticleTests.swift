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

import NVMeEmulator
import Testing
import VFIO

// The code of the VFIO catalog's article "Writing a driver" (Sources/VFIO/VFIO.docc/WritingADriver.md),
// compiled and run here against the emulated NVMe controller. `articleCodeIsCompiledByItsTests`
// checks that every code block of the article appears in this file, line for line.

// MARK: - Registers

/// The registers this driver touches (NVMe base 1.4, 3.1), by name and type.
enum AdminRegisters {
    /// CAP: DSTRD (bits 35:32) spaces the doorbells; TO (bits 31:24) bounds enable and disable.
    static let capabilities = Register<UInt64>(offset: 0x00)
    /// CC: EN (bit 0), IOSQES (bits 19:16), IOCQES (bits 23:20).
    static let configuration = Register<UInt32>(offset: 0x14)
    /// CSTS: RDY (bit 0), CFS (bit 1).
    static let status = Register<ReadyStatus>(offset: 0x1c)
    /// AQA, ASQ and ACQ: the admin queues' sizes and addresses.
    static let queueAttributes = Register<UInt32>(offset: 0x24)
    static let submissionQueueBase = Register<UInt64>(offset: 0x28)
    static let completionQueueBase = Register<UInt64>(offset: 0x30)
}

/// CSTS as a type: the driver reads named bits, not masks.
struct ReadyStatus: RegisterValue {
    let rawValue: UInt32
    var ready: Bool { rawValue & 1 != 0 }
    var fatal: Bool { rawValue & 2 != 0 }
}

// MARK: - The driver

/// The admin queue of an NVMe controller and nothing else: enough to send Identify.
/// Generic over `PCIFunction`, so it runs on a `VFIODevice` and on the emulated controller alike.
struct MinimalAdminQueue<Device: PCIFunction>: ~Copyable {
    static var entries: UInt32 { 8 }
    let device: Device
    let registers: MMIORegion
    let submissions: DMABuffer
    let completions: DMABuffer
    let submissionDoorbell: Doorbell
    let completionDoorbell: Doorbell
    /// The eventfd of MSI-X vector 0, the admin completion queue's; nil when polling.
    let interrupt: Int32?
    let timeoutMilliseconds: Int
    var tail: UInt32 = 0
    var head: UInt32 = 0
    var phase: UInt16 = 1
    var nextCommandID: UInt16 = 0

    init(device: Device, interrupts: Bool) throws(VFIOError) {
        let registers = try device.region(bar: 0)
        let capabilities = registers.read(AdminRegisters.capabilities)
        let stride = 4 << Int((capabilities >> 32) & 0xf)
        let timeoutMilliseconds = max(500, Int((capabilities >> 24) & 0xff) * 500)

        // A controller left enabled by its last owner may still own queues in memory we never saw.
        registers.write(AdminRegisters.configuration, 0)
        try Self.waitForStatus(device, registers, timeoutMilliseconds, "CSTS.RDY = 0") { !$0.ready }

        let submissions = try device.dma.allocate(length: 4096)   // 8 commands of 64 bytes
        let completions = try device.dma.allocate(length: 4096)   // 8 completions of 16 bytes, zeroed
        registers.write(AdminRegisters.queueAttributes, (Self.entries - 1) << 16 | (Self.entries - 1))
        registers.write(AdminRegisters.submissionQueueBase, submissions.iova.rawValue)
        registers.write(AdminRegisters.completionQueueBase, completions.iova.rawValue)

        var interrupt: Int32?
        if interrupts && device.interruptCount(.msix) > 0 {
            try device.enableInterrupts(.msix, count: 1)
            interrupt = device.interruptEventFD(vector: 0)
        }

        registers.write(AdminRegisters.configuration, 4 << 20 | 6 << 16 | 1)   // 16-byte CQEs, 64-byte SQEs, EN
        do {
            try Self.waitForStatus(device, registers, timeoutMilliseconds, "CSTS.RDY = 1") { $0.ready }
        } catch {
            Self.quiesce(device, registers, timeoutMilliseconds)   // before the buffers above are freed
            try? device.disableInterrupts()
            throw error
        }

        self.device = device
        self.registers = registers
        self.submissions = submissions
        self.completions = completions
        self.submissionDoorbell = registers.doorbell(at: 0x1000)
        self.completionDoorbell = registers.doorbell(at: 0x1000 + stride)
        self.interrupt = interrupt
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    /// Polls CSTS until `condition` holds, for at most `milliseconds`; a fatal status ends it early.
    static func waitForStatus(
        _ device: Device, _ registers: MMIORegion, _ milliseconds: Int, _ what: String, _ condition: (ReadyStatus) -> Bool
    ) throws(VFIOError) {
        let deadline = Deadline(milliseconds: milliseconds)
        while true {
            device.service()
            let status = registers.read(AdminRegisters.status)
            if condition(status) { return }
            if status.fatal || status.rawValue == .max { throw .deviceMisbehaved("CSTS reads \(status.rawValue) waiting for \(what)") }
            if deadline.hasPassed { throw .timedOut(what: what, milliseconds: milliseconds) }
            Barrier.cpuPause()
        }
    }

    /// Stops the device's DMA before its memory goes, each step confirmed by reading back: CC.EN = 0,
    /// else a function-level reset, else bus mastering off, else no DMA memory is ever freed again.
    static func quiesce(_ device: Device, _ registers: MMIORegion, _ milliseconds: Int) {
        registers.write(AdminRegisters.configuration, 0)
        do {
            try waitForStatus(device, registers, milliseconds, "CSTS.RDY = 0") { !$0.ready }
            return
        } catch {}
        do {
            try device.reset()
            if !registers.read(AdminRegisters.status).ready { return }
        } catch {}
        do {
            let command = try device.readConfig16(at: 0x04)            // PCI_COMMAND; MASTER is bit 2
            try device.writeConfig16(command & ~0x4, at: 0x04)
            if try device.readConfig16(at: 0x04) & 0x4 == 0 { return }
        } catch {}
        device.dma.keepMappings(because: "\(device.name) could not be stopped")
    }

    deinit {
        Self.quiesce(device, registers, timeoutMilliseconds)
        try? device.disableInterrupts()
        // The queues' DMA buffers are released after this body, when the device can no longer write them.
    }

    /// Sends one admin command with one data page and waits for its completion. Returns the
    /// status field (0: success).
    mutating func execute(opcode: UInt8, namespace: UInt32 = 0, cdw10: UInt32, data: borrowing DMABuffer) throws(VFIOError) -> UInt16 {
        let id = nextCommandID
        nextCommandID &+= 1

        // 1. Build the command in DMA memory: ordinary stores into the next SQ slot
        //    (x86-64 and arm64 are little-endian, as NVMe is).
        let slot = submissions.address + Int(tail) * 64
        slot.initializeMemory(as: UInt8.self, repeating: 0, count: 64)
        slot.storeBytes(of: UInt32(opcode) | UInt32(id) << 16, as: UInt32.self)    // CDW0: opcode, command id
        slot.storeBytes(of: namespace, toByteOffset: 4, as: UInt32.self)            // NSID
        slot.storeBytes(of: data.iova.rawValue, toByteOffset: 24, as: UInt64.self)  // PRP1
        slot.storeBytes(of: cdw10, toByteOffset: 40, as: UInt32.self)               // CDW10
        tail = (tail + 1) % Self.entries

        // 2. Write barrier: the entry is in memory before the doorbell hands it to the device.
        Barrier.write()
        // 3. Doorbell: one 32-bit MMIO store of the new tail.
        submissionDoorbell.ring(tail)

        // 4. Wait until the phase bit of the next CQ entry flips: spin with the pause hint, or
        //    sleep on the vector's eventfd (drained after each wake-up; a signal is never lost,
        //    the counter keeps it).
        let entry = completions.address + Int(head) * 16
        let deadline = Deadline(milliseconds: timeoutMilliseconds)
        while DMAWord.load16(entry + 14) & 1 != phase {
            if deadline.hasPassed { throw .timedOut(what: "admin command \(id)", milliseconds: timeoutMilliseconds) }
            device.service()
            if let interrupt {
                _ = EventFD.wait(interrupt, milliseconds: 10)
                EventFD.drain(interrupt)
            } else {
                Barrier.cpuPause()
            }
        }

        // 5. Read barrier: the phase bit was seen; only now read the rest of the entry.
        Barrier.dmaRead()
        let status = DMAWord.load16(entry + 14) >> 1
        let submissionHead = entry.load(fromByteOffset: 8, as: UInt16.self)
        let completedID = entry.load(fromByteOffset: 12, as: UInt16.self)

        // 6. Consume: give the CQ slot back (head doorbell), then check what the device wrote.
        //    Only now may the SQ slot and `data` be used again.
        head = (head + 1) % Self.entries
        if head == 0 { phase ^= 1 }
        completionDoorbell.ring(head)
        guard completedID == id, UInt32(submissionHead) == tail else {
            throw .deviceMisbehaved("completion for command \(completedID) at SQ head \(submissionHead); expected \(id) at \(tail)")
        }
        return status
    }
}

// MARK: - Using it

/// Identify Controller (opcode 06h, CNS 1) and its model number (bytes 24-63, space-padded).
func identifyModel<Device: PCIFunction>(_ device: Device, interrupts: Bool = true) throws(VFIOError) -> String {
    try device.enableBusMaster()
    var admin = try MinimalAdminQueue(device: device, interrupts: interrupts)
    let page = try device.dma.allocate(length: 4096)
    let status = try admin.execute(opcode: 0x06, cdw10: 1, data: page)
    guard status == 0 else { throw .deviceMisbehaved("Identify Controller failed with status \(status)") }
    var model = String(decoding: page.bytes[24..<64], as: UTF8.self)
    while model.last == " " { model.removeLast() }
    return model
}

/// Opens a function bound to vfio-pci and identifies it.
func identifyFunction(_ bdf: String) throws(VFIOError) -> String {
    let device = try VFIODevice(address: PCIAddress(parsing: bdf))
    return try identifyModel(device)
}

// MARK: - Tests

/// The article's driver, run: it must bring the emulated controller up, identify it in both wait
/// styles, and leave nothing mapped.
@Suite struct WritingADriverArticleTests {
    @Test(arguments: [false, true])
    func minimalAdminQueueIdentifiesTheEmulatedController(interrupts: Bool) throws {
        let device = try EmulatedNVMeController()
        let mappingsBefore = device.dma.liveMappings
        #expect(try identifyModel(device, interrupts: interrupts) == "swift-vfio emulated NVMe")
        #expect(device.dma.liveMappings == mappingsBefore)
        #expect(device.interruptEventFD(vector: 0) == nil)
    }

    @Test func minimalAdminQueueRunsManyCommandsAcrossPhaseFlips() throws {
        let device = try EmulatedNVMeController()
        try device.enableBusMaster()
        var admin = try MinimalAdminQueue(device: device, interrupts: true)
        let page = try device.dma.allocate(length: 4096)
        // Three passes over the eight-entry queue: the phase bit flips twice.
        for _ in 0..<(3 * Int(MinimalAdminQueue<EmulatedNVMeController>.entries)) {
            #expect(try admin.execute(opcode: 0x06, cdw10: 1, data: page) == 0)
        }
        #expect(try admin.execute(opcode: 0x06, namespace: 99, cdw10: 0, data: page) != 0)  // no namespace 99
    }

    /// A device that ignores CC.EN = 0 is stopped by the next step that works, and its memory is
    /// kept only when nothing works.
    @Test(arguments: [(false, false, "reset"), (true, false, "bus master off"), (true, true, "memory kept")])
    func quiesceEscalatesUntilTheDeviceConfirms(resetFails: Bool, busMasterStuck: Bool, outcome: String) throws {
        let device = try EmulatedNVMeController(configuration: EmulatedNVMeConfiguration(timeout: 1))   // CAP.TO: 500 ms
        try device.enableBusMaster()
        var admin = try MinimalAdminQueue(device: device, interrupts: false)
        let page = try device.dma.allocate(length: 4096)
        #expect(try admin.execute(opcode: 0x06, cdw10: 1, data: page) == 0)
        device.setResetBehaviour(ignoresDisable: true)
        if resetFails { device.setResetFault(.fails(errno: 5)) }
        device.setBusMasterStuck(busMasterStuck)
        _ = consume admin
        switch outcome {
        case "reset":
            #expect(!device.dma.keepsMappings && device.busMasterEnabled)
        case "bus master off":
            #expect(!device.dma.keepsMappings && !device.busMasterEnabled)
        default:
            #expect(device.dma.keepsMappings)
            #expect(device.dma.keptMappings == 2)    // the two rings, released after quiesce
        }
    }

    @Test func identifyFunctionNamesABadAddress() {
        #expect(throws: VFIOError.self) { try identifyFunction("0000:01:00") }
    }
}
