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

extension VFIOBackendSupport {
    /// The backend `VFIODevice` opens a function through when it is given none: the one
    /// `options.vfioBackend` resolves to (`choose`), shared with the process's other devices:
    /// one IOAS for all iommufd devices, the group's container for the others.
    func backend(for address: PCIAddress, group: Int, options: VFIODevice.Options) throws(VFIOError) -> any VFIOBackend {
        // vfio names the node of a group without an IOMMU noiommu-<N>; the cdev cannot take those.
        let noIOMMUGroup = !Sysfs.exists("\(vfioDirectory)/\(group)") && Sysfs.exists("\(vfioDirectory)/noiommu-\(group)")
        switch try choose(options.vfioBackend, for: address, noIOMMUGroup: noIOMMUGroup) {
        case .iommufd:
            return try IOMMUFDBackend.shared(support: self, logger: options.logger)
        case .container:
            guard Sysfs.exists("\(vfioDirectory)/vfio") else { throw .vfioNotLoaded }
            return try VFIOContainer.container(forGroup: group, allowNoIOMMU: options.allowNoIOMMU,
                                               vfioDirectory: vfioDirectory, sysfsRoot: sysfsRoot, logger: options.logger)
        }
    }
}
