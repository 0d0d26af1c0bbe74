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

#include "null_device.h"

#include <string.h>

void null_queue_init(null_queue *q, uint16_t qid, uint32_t size, void *sq, void *cq,
                     const uint32_t *sq_tail_doorbell, const uint32_t *cq_head_doorbell) {
    memset(q, 0, sizeof(*q));
    q->sq = sq;
    q->cq = cq;
    q->sq_tail_doorbell = sq_tail_doorbell;
    q->cq_head_doorbell = cq_head_doorbell;
    q->size = size;
    q->qid = qid;
    q->phase = 1;
}

int null_device_add(null_device *d, uint16_t qid, uint32_t size, void *sq, void *cq,
                    const uint32_t *sq_tail_doorbell, const uint32_t *cq_head_doorbell) {
    if (d->count >= NULL_DEVICE_MAX_QUEUES || size < 2) return -1;
    for (uint32_t i = 0; i < d->count; i++)
        if (d->queues[i].qid == qid) return -1;
    null_queue_init(&d->queues[d->count++], qid, size, sq, cq, sq_tail_doorbell, cq_head_doorbell);
    return 0;
}

int null_device_remove(null_device *d, uint16_t qid) {
    for (uint32_t i = 0; i < d->count; i++) {
        if (d->queues[i].qid != qid) continue;
        d->queues[i] = d->queues[--d->count];
        return 0;
    }
    return -1;
}

uint32_t null_queue_service(null_queue *q) {
    // The doorbells are the host's stores: read each once, with acquire (pairs with the host's
    // release store of the tail, so the SQEs it publishes are visible).
    uint32_t tail = __atomic_load_n(q->sq_tail_doorbell, __ATOMIC_ACQUIRE);
    uint32_t cq_head = __atomic_load_n(q->cq_head_doorbell, __ATOMIC_ACQUIRE);
    if (tail >= q->size || cq_head >= q->size) {
        q->invalid_doorbells++;
        return 0;
    }
    uint32_t done = 0;
    while (q->sq_head != tail) {
        uint32_t next_tail = q->cq_tail + 1 == q->size ? 0 : q->cq_tail + 1;
        if (next_tail == cq_head) break;  // CQ full: the host has not consumed enough yet
        uint16_t cid;
        memcpy(&cid, q->sq + (size_t)q->sq_head * 64 + 2, sizeof cid);
        q->sq_head = q->sq_head + 1 == q->size ? 0 : q->sq_head + 1;
        uint8_t *cqe = q->cq + (size_t)q->cq_tail * 16;
        uint32_t dw0 = 0, dw1 = 0;
        uint32_t dw2 = q->sq_head | (uint32_t)q->qid << 16;
        memcpy(cqe, &dw0, 4);
        memcpy(cqe + 4, &dw1, 4);
        memcpy(cqe + 8, &dw2, 4);
        memcpy(cqe + 12, &cid, 2);
        // Status 0 (success) with the phase tag, stored last with release: the host's acquire
        // load of this word then sees the rest of the entry.
        __atomic_store_n((uint16_t *)(cqe + 14), (uint16_t)q->phase, __ATOMIC_RELEASE);
        q->cq_tail = next_tail;
        if (next_tail == 0) q->phase ^= 1;
        done++;
    }
    q->completed += done;
    return done;
}

uint32_t null_device_service(null_device *d) {
    uint32_t done = 0;
    for (uint32_t i = 0; i < d->count; i++) done += null_queue_service(&d->queues[i]);
    return done;
}
