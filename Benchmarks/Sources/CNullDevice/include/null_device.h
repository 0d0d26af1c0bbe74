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

/// The null NVMe device's completion engine: for each new SQE it posts a successful CQE (right
/// command id, SQ id, SQ head, phase tag) and touches no data. Both the Swift driver benchmark
/// (through `NullNVMeController.service()`) and the C reference use this same code, so the device
/// side of the two figures is identical, and the driver's share can be isolated from it.
///
/// Written for this benchmark; the layout is the NVMe one (NVMe base 1.4, 4.2 and 4.6): 64-byte
/// SQEs with CID at byte 2, 16-byte CQEs with SQHD/SQID in DW2 and CID/status/phase in DW3.
#ifndef NULL_DEVICE_H
#define NULL_DEVICE_H

#include <stdint.h>

#define NULL_DEVICE_MAX_QUEUES 16

/// One I/O queue pair as the device sees it. Pointers are host addresses of the rings (resolved
/// once, when the queue is created) and of the two doorbells in the BAR.
typedef struct {
    uint8_t *sq;
    uint8_t *cq;
    const uint32_t *sq_tail_doorbell;
    const uint32_t *cq_head_doorbell;
    uint32_t size;       ///< entries in both rings
    uint32_t sq_head;    ///< next SQE to fetch (reported as SQHD)
    uint32_t cq_tail;    ///< next CQE slot to write
    uint16_t qid;
    uint16_t phase;      ///< phase tag of the current pass, starts at 1
    uint64_t completed;
    uint64_t invalid_doorbells;
} null_queue;

typedef struct {
    null_queue queues[NULL_DEVICE_MAX_QUEUES];
    uint32_t count;
} null_device;

/// Initialises a queue for `qid` (not added to a device).
void null_queue_init(null_queue *q, uint16_t qid, uint32_t size, void *sq, void *cq,
                     const uint32_t *sq_tail_doorbell, const uint32_t *cq_head_doorbell);

/// Adds a queue to the device (setup time). Returns 0, or -1 when the device is full or `qid` is
/// already there.
int null_device_add(null_device *d, uint16_t qid, uint32_t size, void *sq, void *cq,
                    const uint32_t *sq_tail_doorbell, const uint32_t *cq_head_doorbell);

/// Removes queue `qid`. Returns 0, or -1 when there is none.
int null_device_remove(null_device *d, uint16_t qid);

/// Completes every SQE published on one queue. Returns how many it completed. Never inlined,
/// so that instruction counts can attribute its cost to the device rather than the driver.
uint32_t null_queue_service(null_queue *q) __attribute__((noinline));

/// Services every queue of the device. Never inlined, for the same reason.
uint32_t null_device_service(null_device *d) __attribute__((noinline));

/// A register or doorbell load the compiler may not hoist or merge.
static inline uint32_t null_load32_acquire(const void *address) {
    return __atomic_load_n((const uint32_t *)address, __ATOMIC_ACQUIRE);
}

/// The last store of a CQE (its status and phase word), with release, for the admin path.
static inline void null_store16_release(void *address, uint16_t value) {
    __atomic_store_n((uint16_t *)address, value, __ATOMIC_RELEASE);
}

#endif
