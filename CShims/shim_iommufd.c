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

// Request numbers of CShimsIOMMUFD.h. Where the build machine's headers have the real
// definitions (linux-libc-dev 6.2+ for iommufd, 6.6+ for the cdev ioctls), they are checked
// against ours at compile time.
#include "CShims.h"

#include <stddef.h>
#include <sys/ioctl.h>

#define SHIM_IOMMUFD_TYPE ';'

const unsigned long SHIM_IOMMU_DESTROY = _IO(SHIM_IOMMUFD_TYPE, 0x80);
const unsigned long SHIM_IOMMU_IOAS_ALLOC = _IO(SHIM_IOMMUFD_TYPE, 0x81);
const unsigned long SHIM_IOMMU_IOAS_IOVA_RANGES = _IO(SHIM_IOMMUFD_TYPE, 0x84);
const unsigned long SHIM_IOMMU_IOAS_MAP = _IO(SHIM_IOMMUFD_TYPE, 0x85);
const unsigned long SHIM_IOMMU_IOAS_UNMAP = _IO(SHIM_IOMMUFD_TYPE, 0x86);
const unsigned long SHIM_VFIO_DEVICE_BIND_IOMMUFD = _IO(VFIO_TYPE, VFIO_BASE + 18);
const unsigned long SHIM_VFIO_DEVICE_ATTACH_IOMMUFD_PT = _IO(VFIO_TYPE, VFIO_BASE + 19);
const unsigned long SHIM_VFIO_DEVICE_DETACH_IOMMUFD_PT = _IO(VFIO_TYPE, VFIO_BASE + 20);

#if __has_include(<linux/iommufd.h>)
#include <linux/iommufd.h>
_Static_assert(IOMMU_IOAS_MAP == _IO(SHIM_IOMMUFD_TYPE, 0x85), "IOMMU_IOAS_MAP");
_Static_assert(sizeof(struct iommu_ioas_map) == sizeof(shim_iommu_ioas_map), "iommu_ioas_map");
_Static_assert(sizeof(struct iommu_ioas_iova_ranges) == sizeof(shim_iommu_ioas_iova_ranges), "iommu_ioas_iova_ranges");
_Static_assert(sizeof(struct iommu_ioas_unmap) == sizeof(shim_iommu_ioas_unmap), "iommu_ioas_unmap");
_Static_assert(offsetof(struct iommu_ioas_map, iova) == offsetof(shim_iommu_ioas_map, iova), "iommu_ioas_map.iova");
#endif
#ifdef VFIO_DEVICE_BIND_IOMMUFD
_Static_assert(VFIO_DEVICE_BIND_IOMMUFD == _IO(VFIO_TYPE, VFIO_BASE + 18), "VFIO_DEVICE_BIND_IOMMUFD");
_Static_assert(sizeof(struct vfio_device_bind_iommufd) >= sizeof(shim_vfio_device_bind_iommufd), "vfio_device_bind_iommufd");
#endif
