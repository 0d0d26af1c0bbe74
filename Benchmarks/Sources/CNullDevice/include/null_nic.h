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

/// The null 82574L's descriptor engine: every transmit descriptor the driver hands over (up to
/// TDT) is written back done at once, and every receive descriptor posted (up to RDT) comes back
/// done with a frame already in its buffer, whose bytes are never touched. Both the Swift NIC
/// benchmark (through `NullE1000E.service()`) and the C reference use this code, so the device
/// side of the two figures is identical and the driver's share can be isolated from it.
///
/// Layout: the 82574 legacy descriptors (datasheet 7.1.4, 7.2.10): 16 bytes, receive length at
/// byte 8 and status at byte 12 (DD bit 0, EOP bit 1), transmit status at byte 12 (DD bit 0).
#ifndef NULL_NIC_H
#define NULL_NIC_H

#include <stdint.h>

/// One ring as the device sees it: host addresses of the descriptors (resolved once, when the
/// driver programs the ring) and of the head and tail registers in the BAR.
typedef struct {
    uint8_t *descriptors;
    const uint32_t *tail_register;
    uint32_t *head_register;
    uint32_t entries;        ///< a power of two
    uint32_t head;           ///< next descriptor to write back
    uint16_t frame_length;   ///< receive: the length written back
    uint16_t receive;
    uint64_t completed;
    uint64_t invalid_tails;
} null_nic_ring;

typedef struct {
    null_nic_ring receive;
    null_nic_ring transmit;
    uint32_t live;           ///< bit 0: receive ring programmed, bit 1: transmit ring
} null_nic;

/// Programs a ring (setup time). `entries` must be a power of two.
void null_nic_ring_init(null_nic_ring *r, int receive, void *descriptors, uint32_t entries,
                        const uint32_t *tail_register, uint32_t *head_register, uint32_t head,
                        uint16_t frame_length);

/// Writes back every descriptor handed over on the live rings. Returns how many. Never inlined,
/// so that instruction counts attribute its cost to the device.
uint32_t null_nic_service(null_nic *n) __attribute__((noinline));

#endif
