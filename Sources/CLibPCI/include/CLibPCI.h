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

/// CLibPCI: the two libpci calls PCI discovery needs (VFIOHost), in their own target so that a
/// driver linking VFIO does not link libpci. Thin: no policy.
#ifndef CLIBPCI_H
#define CLIBPCI_H

#include <stdint.h>
#include <stddef.h>

/// One PCI function as libpci sees it. Names come from pci.ids via pci_lookup_name.
typedef struct {
    uint16_t domain;
    uint8_t bus;
    uint8_t device;
    uint8_t function;
    uint8_t header_type;   // config offset 0x0e, without the multi-function bit: 0 endpoint, 1 bridge, 2 CardBus
    uint16_t vendor_id;
    uint16_t device_id;
    uint32_t class_code;   // 24 bits: base class, subclass, programming interface
    int numa_node;         // -1 when unknown
    uint64_t bar_size[6];
    uint64_t bar_flags[6]; // PCI_ADDR_FLAG_MASK bits of base_addr (bit 0 = I/O space)
} clibpci_function;

/// Scans the bus with libpci (sysfs method). Stores at most `capacity` functions, returns the total
/// found (may exceed capacity), or -1 when libpci cannot be initialised.
int clibpci_scan(clibpci_function *out, int capacity);
/// Vendor and device names from pci.ids. Empty strings when unknown.
void clibpci_lookup_names(uint16_t vendor_id, uint16_t device_id,
                          char *vendor_name, size_t vendor_len,
                          char *device_name, size_t device_len);

#endif
