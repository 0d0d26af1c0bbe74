import CShims
import VFIO

/// The controller's side of BAR0. Every access is an atomic one (CShims' MMIO accessors), because
/// the driver writes the same words from another thread in threaded mode: doorbells are read with
/// acquire loads, pairing with the driver's release stores, so the SQEs and PRP lists a doorbell
/// publishes are visible before they are fetched.
struct BARMemory: Sendable {
    let region: MMIORegion

    func load32(_ offset: Int) -> UInt32 { shim_mmio_read32(region.base + offset) }
    func load64(_ offset: Int) -> UInt64 { shim_mmio_read64(region.base + offset) }
    func store32(_ value: UInt32, _ offset: Int) { shim_mmio_write32(region.base + offset, value) }
    func store64(_ value: UInt64, _ offset: Int) { shim_mmio_write64(region.base + offset, value) }
    /// A doorbell: acquire, pairing with `Doorbell.ring`'s release store.
    func loadDoorbell(_ offset: Int) -> UInt32 { shim_mmio_read32_acquire(region.base + offset) }
}
