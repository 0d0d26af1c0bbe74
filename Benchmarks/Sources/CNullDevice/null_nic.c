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

#include "null_nic.h"

void null_nic_ring_init(null_nic_ring *r, int receive, void *descriptors, uint32_t entries,
                        const uint32_t *tail_register, uint32_t *head_register, uint32_t head,
                        uint16_t frame_length) {
    r->descriptors = descriptors;
    r->tail_register = tail_register;
    r->head_register = head_register;
    r->entries = entries;
    r->head = head & (entries - 1);
    r->frame_length = frame_length;
    r->receive = receive != 0;
    r->completed = 0;
    r->invalid_tails = 0;
}

static uint32_t null_nic_ring_service(null_nic_ring *r) {
    // The tail is the driver's store: read once, with acquire (pairs with its wmb + tail store,
    // so the descriptors it published are visible). A tail outside the ring is ignored.
    uint32_t tail = __atomic_load_n(r->tail_register, __ATOMIC_ACQUIRE);
    if (tail >= r->entries) {
        r->invalid_tails++;
        return 0;
    }
    uint32_t done = 0;
    while (r->head != tail) {
        uint8_t *d = r->descriptors + (uint64_t)r->head * 16;
        if (r->receive) {
            *(uint16_t *)(d + 8) = r->frame_length;
            // DD and EOP last, with release: the driver's acquire load of this dword then sees
            // the length.
            __atomic_store_n((uint32_t *)(d + 12), 0x3u, __ATOMIC_RELEASE);
        } else {
            __atomic_store_n((uint32_t *)(d + 12), 0x1u, __ATOMIC_RELEASE);
        }
        r->head = (r->head + 1) & (r->entries - 1);
        done++;
    }
    *r->head_register = r->head;
    r->completed += done;
    return done;
}

uint32_t null_nic_service(null_nic *n) {
    uint32_t done = 0;
    if (n->live & 1) done += null_nic_ring_service(&n->receive);
    if (n->live & 2) done += null_nic_ring_service(&n->transmit);
    return done;
}
