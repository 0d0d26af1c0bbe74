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

/// The iommufd uapi (`<linux/iommufd.h>`, Linux 6.2+) and the VFIO device cdev ioctls
/// (`<linux/vfio.h>`, Linux 6.6+), which Debian 12's headers (linux-libc-dev 6.1) lack.
///
/// Copied field for field from Linux 6.12's `include/uapi/linux/iommufd.h` and `vfio.h`, under
/// our own `shim_` names so that a newer system header cannot clash. Every struct starts with its
/// size (`size` or `argsz`): the kernel treats bytes past what it knows as "must be zero"
/// (E2BIG otherwise), which is how these structs grow. `VFIOTests.IOMMUFDABITests` pins every
/// number and layout; shim_iommufd.c checks them against the system header when it has one.
#ifndef CSHIMS_IOMMUFD_H
#define CSHIMS_IOMMUFD_H

#include <stdint.h>

/// `struct iommu_destroy`: destroys any iommufd object by id.
typedef struct {
    uint32_t size;
    uint32_t id;
} shim_iommu_destroy;

/// `struct iommu_ioas_alloc`: a new I/O address space; `out_ioas_id` names it.
typedef struct {
    uint32_t size;
    uint32_t flags;
    uint32_t out_ioas_id;
} shim_iommu_ioas_alloc;

/// `struct iommu_iova_range`: `[start, last]`, `last` inclusive.
typedef struct {
    uint64_t start __attribute__((aligned(8)));
    uint64_t last __attribute__((aligned(8)));
} shim_iommu_iova_range;

/// `struct iommu_ioas_iova_ranges`: `num_iovas` in: capacity of `allowed_iovas`; out: the total
/// (EMSGSIZE when it exceeds the capacity).
typedef struct {
    uint32_t size;
    uint32_t ioas_id;
    uint32_t num_iovas;
    uint32_t __reserved;
    uint64_t allowed_iovas __attribute__((aligned(8)));
    uint64_t out_iova_alignment __attribute__((aligned(8)));
} shim_iommu_ioas_iova_ranges;

/// `enum iommufd_ioas_map_flags`.
enum {
    SHIM_IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0,
    SHIM_IOMMU_IOAS_MAP_WRITEABLE = 1 << 1,
    SHIM_IOMMU_IOAS_MAP_READABLE = 1 << 2,
};

/// `struct iommu_ioas_map`.
typedef struct {
    uint32_t size;
    uint32_t flags;
    uint32_t ioas_id;
    uint32_t __reserved;
    uint64_t user_va __attribute__((aligned(8)));
    uint64_t length __attribute__((aligned(8)));
    uint64_t iova __attribute__((aligned(8)));
} shim_iommu_ioas_map;

/// `struct iommu_ioas_unmap`: `length` in: bytes to unmap; out: bytes unmapped.
typedef struct {
    uint32_t size;
    uint32_t ioas_id;
    uint64_t iova __attribute__((aligned(8)));
    uint64_t length __attribute__((aligned(8)));
} shim_iommu_ioas_unmap;

/// `struct vfio_device_bind_iommufd`: binds a cdev fd to an iommufd; `out_devid` names the bond.
typedef struct {
    uint32_t argsz;
    uint32_t flags;
    int32_t iommufd;
    uint32_t out_devid;
} shim_vfio_device_bind_iommufd;

/// `struct vfio_device_attach_iommufd_pt`: `pt_id` in: an IOAS (or HWPT); out: the HWPT attached.
typedef struct {
    uint32_t argsz;
    uint32_t flags;
    uint32_t pt_id;
} shim_vfio_device_attach_iommufd_pt;

/// `struct vfio_device_detach_iommufd_pt`.
typedef struct {
    uint32_t argsz;
    uint32_t flags;
} shim_vfio_device_detach_iommufd_pt;

// Request numbers: `_IO(';', 0x80 + n)` for iommufd (the size is not encoded: it travels in the
// struct), `_IO(';', 100 + n)` for VFIO.
extern const unsigned long SHIM_IOMMU_DESTROY;
extern const unsigned long SHIM_IOMMU_IOAS_ALLOC;
extern const unsigned long SHIM_IOMMU_IOAS_IOVA_RANGES;
extern const unsigned long SHIM_IOMMU_IOAS_MAP;
extern const unsigned long SHIM_IOMMU_IOAS_UNMAP;
extern const unsigned long SHIM_VFIO_DEVICE_BIND_IOMMUFD;
extern const unsigned long SHIM_VFIO_DEVICE_ATTACH_IOMMUFD_PT;
extern const unsigned long SHIM_VFIO_DEVICE_DETACH_IOMMUFD_PT;

#endif
