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

/// What a `VFIODevice` needs from the kernel's IOMMU side: a device fd, and an IOVA space to map
/// DMA memory into.
///
/// `VFIOContainer` implements it with the legacy container/group API (`/dev/vfio/vfio` and
/// `/dev/vfio/<group>`), which is all kernel 6.1 offers. `IOMMUFDBackend` is its peer for
/// `/dev/iommu` plus the device cdev `/dev/vfio/devices/vfioN` (kernel 6.6+): it binds the cdev
/// to an iommufd and attaches it to an IOAS instead of attaching a group, and maps with
/// `IOMMU_IOAS_MAP`. `VFIOBackendSupport.choose` picks one.
public protocol VFIOBackend: DMAMapper {
    /// Opens the device fd of a function that is bound to vfio-pci and sits in `iommuGroup`,
    /// attaching whatever the backend needs first (the group to the container).
    func openDevice(_ address: PCIAddress, iommuGroup: Int) throws(VFIOError) -> FileDescriptor

    /// The one DMA allocator of this backend's IOVA space, shared by all its devices, so that
    /// two devices never get the same IOVA. Created on first use with `policy`.
    func dmaAllocator(policy: DMAMemoryPolicy) -> DMAAllocator

    /// True when DMA is not translated (VFIO no-IOMMU mode): the device can reach all memory.
    var isNoIOMMU: Bool { get }

    /// Which kind of backend this is.
    var kind: VFIOBackendKind { get }

    /// One line for `identify` and logs: the kind and its IOMMU model or IOAS.
    var summary: String { get }
}
