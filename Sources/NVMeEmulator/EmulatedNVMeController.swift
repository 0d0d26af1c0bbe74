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

@_exported import PCIEmulation
import NVMeSpec
import Synchronization
import VFIO

/// An NVMe controller in software, presented as a PCI function: the peer of `VFIODevice` that
/// drivers run against when there is no hardware (NVMe base 1.4 subset; see the issue for the list).
///
/// The driver reaches BAR0 through the same `MMIORegion` accessors as a real BAR, DMA memory
/// through `dma` (mapped in the emulated IOMMU, which every controller access goes through), and
/// interrupts through real eventfds. The controller notices register and doorbell writes by
/// reading BAR memory:
/// - `.stepped`: only inside `service()`, on the caller's thread, which processes everything
///   pending. Deterministic; the driver's wait loops call it.
/// - `.threaded`: on the controller's own thread; `service()` does nothing.
///
/// Thread-safe: all state is behind one lock, the BAR is shared through volatile accesses. The
/// `PCIFunction` plumbing (config space, interrupts, reset) is `EmulatedPCIFunction`'s.
public final class EmulatedNVMeController: EmulatedPCIFunction {
    public let name = "emulated"
    public let configuration: EmulatedNVMeConfiguration
    /// The IOMMU the controller's DMA goes through; its fault list is what tests check.
    public let iommu: EmulatedIOMMU
    public let dma: DMAAllocator
    public var mode: EmulationMode { configuration.mode }

    let core: ControllerCore
    private let thread: Mutex<DeviceRunLoop?>

    public init(configuration: EmulatedNVMeConfiguration = EmulatedNVMeConfiguration()) throws(EmulatorError) {
        let problems = configuration.validationErrors()
        guard problems.isEmpty else { throw .invalidConfiguration(problems) }
        let layout = BARLayout(
            doorbellStrideExponent: Int(configuration.doorbellStride), maxIOQueuePairs: configuration.maxIOQueuePairs,
            msixVectors: configuration.msixVectors)
        var storage: [NamespaceStorage] = []
        var metadata: [NamespaceStorage?] = []
        for namespace in configuration.namespaces {
            storage.append(try NamespaceStorage(namespace))
            metadata.append(try NamespaceStorage(metadataOf: namespace))
        }
        let bar = try EmulatedBAR.map(length: layout.size, orThrow: EmulatorError.barAllocation)
        var controllerMemory: EmulatedBAR?
        if configuration.controllerMemoryBufferBytes > 0 {
            controllerMemory = try EmulatedBAR.map(length: configuration.controllerMemoryBufferBytes, orThrow: EmulatorError.barAllocation)
        }
        let iommu = EmulatedIOMMU()
        let engine = ControllerEngine(
            configuration: configuration, layout: layout, bar: BARMemory(region: bar.region), iommu: iommu, namespaces: storage,
            metadata: metadata, controllerMemory: controllerMemory.map { BARMemory(region: $0.region) })
        let core = ControllerCore(engine: engine, bar: bar, controllerMemory: controllerMemory)
        self.configuration = configuration
        self.iommu = iommu
        self.core = core
        self.dma = DMAAllocator(mapper: iommu, policy: DMAMemoryPolicy(hugepages: .never))
        thread = try DeviceRunLoop.start(
            for: configuration.mode, name: "emulated NVMe controller", spinNanoseconds: 20_000_000, worker: core,
            orThrow: EmulatorError.threadStart)
    }

    /// Stops the controller thread (threaded mode). The object stays usable in the sense that its
    /// registers can be read, but nothing is processed any more. Idempotent; `deinit` does it too.
    public func close() {
        thread.withLock { $0 = nil }
    }

    // MARK: - EmulatedPCIFunction

    public func withEngine<R: Sendable>(_ body: (inout ControllerEngine) -> R) -> R { core.withEngine(body) }

    public func serviceOnce() { _ = core.serviceOnce() }

    /// BAR0: registers, doorbells, the MSI-X table and PBA; BAR2: the Controller Memory Buffer,
    /// when configured.
    public func region(bar: Int) throws(VFIOError) -> MMIORegion {
        if bar == 2, let memory = core.controllerMemoryRegion { return memory }
        guard bar == 0 else {
            throw .outOfRange(what: "BAR index (the emulated controller has BAR0\(core.controllerMemoryRegion == nil ? "" : " and BAR2") only)", value: UInt64(truncatingIfNeeded: bar), limit: 0)
        }
        return core.bar.region
    }

    // MARK: - Inspection and fault control (tests, benchmarks, the tool)

    public var statistics: ControllerStatistics {
        core.withEngine { e in
            var s = e.statistics.snapshot
            s.interruptsSignalled = e.pci.counters.signalled
            s.interruptsHeldMasked = e.pci.counters.heldMasked
            return s
        }
    }

    public var faultCounters: FaultCounters { core.withEngine { $0.faults.counters } }

    /// Replaces the fault plan; rule counters and the generator start over.
    public func setFaultPlan(_ plan: FaultPlan) {
        core.withEngine { $0.faults = FaultInjector(plan: plan) }
    }

    /// Queues an asynchronous event (NVMe base 1.4, 5.2): type (0 error, 1 SMART/health,
    /// 2 notice, ...), information, and the log page that clears it.
    public func raiseAsynchronousEvent(type: UInt8, info: UInt8, logPage: UInt8) {
        core.withEngine { $0.events.append(AsynchronousEvent(type: type, info: info, logPage: logPage)) }
    }

    /// Changes how the controller takes a reset, to test a driver's recovery: `readyDelayNanoseconds`
    /// replaces the configured CSTS.RDY delay for later enables (nil: back to the configured one);
    /// `ignoresDisable` makes it ignore CC.EN 1 → 0 (CSTS.RDY stays 1), so only a function level
    /// reset helps, as with a wedged controller.
    public func setResetBehaviour(readyDelayNanoseconds: UInt64? = nil, ignoresDisable: Bool = false) {
        core.withEngine { e in
            e.readyDelayOverride = readyDelayNanoseconds
            e.ignoresDisable = ignoresDisable
        }
    }

    /// Why the last CC.EN 0 → 1 failed (CSTS.CFS was set), or nil.
    public var lastEnableError: String? { core.withEngine { $0.lastEnableError } }

    /// True after a fatal error or a stop-responding fault, until a controller reset.
    public var isHalted: Bool { core.withEngine { $0.halted } }

    /// Completions owed and not yet posted (latency, delays, a full CQ), over all queues.
    public var owedCompletions: Int { core.withEngine { $0.pending.reduce(0) { $0 + $1.count } } }

    /// Bytes of backing storage a namespace uses (memory chunks or file blocks), nil for an unknown NSID.
    public func allocatedBytes(namespace nsid: UInt32) -> UInt64? {
        core.withEngine { e in e.activeNamespaceIndex(nsid).map { e.namespaces[$0].allocatedBytes } }
    }

    /// BAR0 offsets of the MSI-X table and PBA (also in the MSI-X capability).
    public var msixTableOffset: Int { core.withEngine { $0.layout.msixTableOffset } }
    public var msixPBAOffset: Int { core.withEngine { $0.layout.msixPBAOffset } }
}
