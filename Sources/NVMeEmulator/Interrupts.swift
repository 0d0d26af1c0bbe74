import CShims
import NVMe
import VFIO

/// An eventfd owned by the device while its vector is enabled (a class, so an array can hold the
/// non-copyable `EventFD`; closed when the last reference goes).
final class VectorEventFD: Sendable {
    let eventFD: EventFD
    init(_ eventFD: consuming EventFD) { self.eventFD = eventFD }
}

/// Interrupt delivery: MSI-X vectors (table and PBA in BAR0) or INTx, each through an eventfd, as
/// vfio-pci delivers them with `VFIO_DEVICE_SET_IRQS` and `VFIO_IRQ_SET_ACTION_TRIGGER`.
struct InterruptState {
    var kind: InterruptKind?
    var eventFDs: [VectorEventFD] = []
    /// MSI-X vectors with their PBA bit set, waiting for unmask.
    var pendingVectors: [Int] = []
    /// INTx is level triggered and auto-masked by vfio-pci after each trigger until
    /// `VFIO_IRQ_SET_ACTION_UNMASK`; a trigger while masked is remembered.
    var intxMaskedUntilUnmask = false
    var intxPending = false
    let vectors: Int

    init(vectors: Int) { self.vectors = vectors }
}

extension ControllerEngine {
    /// After reset every MSI-X vector is masked (PCI 3.0, 6.8.2.9); vfio-pci unmasks the ones it enables.
    mutating func initializeMSIXTable() {
        for v in 0..<layout.msixVectors {
            bar.store32(0, layout.msixMessageAddress(v))
            bar.store32(0, layout.msixMessageAddress(v) + 4)
            bar.store32(0, layout.msixMessageData(v))
            bar.store32(1, layout.msixVectorControl(v))
        }
        for word in stride(from: 0, to: layout.msixVectors, by: 32) {
            bar.store32(0, layout.msixPBAWord(word))
        }
    }

    func vectorMasked(_ v: Int) -> Bool {
        pciConfig.msixFunctionMasked || bar.load32(layout.msixVectorControl(v)) & 1 != 0
    }

    mutating func setPending(_ v: Int, _ on: Bool) {
        let word = layout.msixPBAWord(v)
        let bit = UInt32(1) << UInt32(v % 32)
        let old = bar.load32(word)
        bar.store32(on ? old | bit : old & ~bit, word)
    }

    /// Sends the message of vector `v`, or holds it pending while the vector is masked.
    mutating func signal(vector v: Int) {
        switch interrupts.kind {
        case .msix:
            guard pciConfig.msixEnabled, v < interrupts.eventFDs.count else { return }
            if vectorMasked(v) {
                if !interrupts.pendingVectors.contains(v) {
                    interrupts.pendingVectors.append(v)
                    setPending(v, true)
                }
                statistics.totals.interruptsHeldMasked += 1
                return
            }
            interrupts.eventFDs[v].eventFD.signal()
            statistics.totals.interruptsSignalled += 1
        case .intx:
            guard let fd = interrupts.eventFDs.first else { return }
            if pciConfig.intxDisabled || interruptMask & 1 != 0 || interrupts.intxMaskedUntilUnmask {
                interrupts.intxPending = true
                statistics.totals.interruptsHeldMasked += 1
                return
            }
            interrupts.intxMaskedUntilUnmask = true
            fd.eventFD.signal()
            statistics.totals.interruptsSignalled += 1
        case .msi, nil:
            return
        }
    }

    /// Delivers what was held for vectors now unmasked, and the coalesced interrupts whose
    /// threshold or time has come (Interrupt Coalescing, 5.21.1.8).
    mutating func serviceInterrupts() -> Bool {
        var worked = false
        if !interrupts.pendingVectors.isEmpty, interrupts.kind == .msix {
            var still: [Int] = []
            for v in interrupts.pendingVectors {
                if vectorMasked(v) {
                    still.append(v)
                } else {
                    setPending(v, false)
                    if v < interrupts.eventFDs.count {
                        interrupts.eventFDs[v].eventFD.signal()
                        statistics.totals.interruptsSignalled += 1
                    }
                    worked = true
                }
            }
            interrupts.pendingVectors = still
        }
        if interrupts.kind == .intx, interrupts.intxPending, !interrupts.intxMaskedUntilUnmask,
           !pciConfig.intxDisabled, interruptMask & 1 == 0 {
            interrupts.intxPending = false
            signal(vector: 0)
            worked = true
        }
        let coalescing = InterruptCoalescing(dword: features.interruptCoalescing)
        var now: UInt64 = 0
        for qid in liveCompletionQueues {
            guard var cq = completionQueues[qid], cq.unsignalled > 0 else { continue }
            // The admin CQ is never coalesced; an I/O CQ is unless its vector has CD set (5.21.1.9).
            let coalesced = qid != 0 && coalescing.aggregationTime != 0
                && !(cq.vector < features.coalescingDisabled.count && features.coalescingDisabled[cq.vector])
            var fire = !coalesced || cq.unsignalled >= coalescing.aggregationThreshold
            if !fire {
                if now == 0 { now = MonotonicClock.now() }
                if cq.firstUnsignalledAt == 0 {
                    cq.firstUnsignalledAt = now
                } else if now - cq.firstUnsignalledAt >= UInt64(coalescing.aggregationTimeMicroseconds) * 1000 {
                    fire = true
                }
            }
            if fire {
                cq.unsignalled = 0
                cq.firstUnsignalledAt = 0
                worked = true
            }
            completionQueues[qid] = cq
            if fire { signal(vector: interrupts.kind == .intx ? 0 : cq.vector) }
        }
        return worked
    }
}
