import CShims

/// Loads of DMA memory the device writes concurrently, confined to one place.
///
/// The CQE status word is the word a reaper spins on: it must be loaded afresh on every pass
/// (READ_ONCE in Linux), which a plain Swift load does not promise inside a loop. The acquire load
/// also orders the following reads of the entry on weakly ordered CPUs; the driver still issues
/// `Barrier.dmaRead()` after it, as Linux does after `nvme_cqe_pending`.
@usableFromInline
enum DMAWord {
    @inlinable @inline(__always)
    static func load16(_ address: UnsafeMutableRawPointer) -> UInt16 {
        shim_dma_load16_acquire(address)
    }
}
