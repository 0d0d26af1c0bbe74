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

#include "ref_driver.h"
#include "ref_bench.h"

#include <stdlib.h>
#include <sys/mman.h>

/// Completion callback: adds the token; counts a non-success status as a failure.
static void ref_bench_done(void *ctx, const ref_completion *c) {
    ref_bench *b = ctx;
    b->sum += c->token;
    if (c->status != 0) b->failures++;
}

ref_bench *ref_bench_create(uint32_t entries, uint32_t transfer_bytes) {
    if (entries < 2 || entries > 4096 || transfer_bytes == 0 || transfer_bytes % 512 || transfer_bytes > REF_LIST_ENTRIES * REF_PAGE)
        return NULL;
    ref_bench *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    uint32_t capacity = entries - 1;
    size_t sq_bytes = ((size_t)entries * 64 + REF_PAGE - 1) / REF_PAGE * REF_PAGE;
    size_t cq_bytes = ((size_t)entries * 16 + REF_PAGE - 1) / REF_PAGE * REF_PAGE;
    size_t list_bytes = (size_t)capacity * REF_PAGE;
    size_t data_bytes = ((size_t)transfer_bytes + REF_PAGE - 1) / REF_PAGE * REF_PAGE;
    b->memory_length = sq_bytes + cq_bytes + list_bytes + data_bytes;
    b->memory = mmap(NULL, b->memory_length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    b->bar = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    ref_qpair *qp = &b->qp;
    qp->trackers = calloc(capacity, sizeof *qp->trackers);
    qp->free_ids = calloc(capacity, sizeof *qp->free_ids);
    if (b->memory == MAP_FAILED || b->bar == MAP_FAILED || !qp->trackers || !qp->free_ids) {
        if (b->memory == MAP_FAILED) b->memory = NULL;
        if (b->bar == MAP_FAILED) b->bar = NULL;
        ref_bench_destroy(b);
        return NULL;
    }
    uint8_t *sq = b->memory, *cq = sq + sq_bytes, *lists = cq + cq_bytes, *data = lists + list_bytes;
    // The device address of host memory: identity (the null device never touches data).
    qp->sq = sq;
    qp->cq = cq;
    qp->size = entries;
    qp->sq_doorbell = (volatile uint32_t *)(b->bar + 0x1008);
    qp->cq_doorbell = (volatile uint32_t *)(b->bar + 0x100c);
    qp->cq_phase = 1;
    qp->capacity = capacity;
    qp->free_count = capacity;
    for (uint32_t i = 0; i < capacity; i++) {
        qp->trackers[i].prp_list = (uint64_t *)(lists + (size_t)i * REF_PAGE);
        qp->trackers[i].prp_list_iova = (uint64_t)(uintptr_t)(lists + (size_t)i * REF_PAGE);
        qp->free_ids[i] = (uint16_t)(capacity - 1 - i);  // lowest ids first, as in Swift
    }
    qp->qid = 1;
    qp->max_transfer = REF_LIST_ENTRIES * REF_PAGE;
    null_queue_init(&b->device.queues[0], 1, entries, sq, cq,
                    (const uint32_t *)(b->bar + 0x1008), (const uint32_t *)(b->bar + 0x100c));
    b->device.count = 1;
    b->buffer_iova = (uint64_t)(uintptr_t)data;
    b->buffer_length = transfer_bytes;
    b->nsid = 1;
    b->block_shift = 9;
    b->max_blocks = qp->max_transfer >> 9;
    return b;
}

void ref_bench_destroy(ref_bench *b) {
    if (!b) return;
    if (b->memory) munmap(b->memory, b->memory_length);
    if (b->bar) munmap(b->bar, 16384);
    free(b->qp.trackers);
    free(b->qp.free_ids);
    free(b);
}

uint64_t ref_bench_qd1(ref_bench *b, uint64_t count) {
    ref_qpair *qp = &b->qp;
    uint32_t blocks = b->buffer_length >> b->block_shift;
    b->sum = 0;
    b->failures = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t lba = (i & 0xFFFF) * blocks;
        if (ref_submit_read(qp, b->nsid, lba, blocks, b->block_shift, b->max_blocks, b->buffer_iova, b->buffer_length, i) < 0)
            return UINT64_MAX;
        ref_ring_sq(qp);
        null_device_service(&b->device);
        if (ref_reap(qp, UINT64_MAX, ref_bench_done, b) != 1) return UINT64_MAX;
    }
    return b->failures ? UINT64_MAX : b->sum;
}

uint64_t ref_bench_batch(ref_bench *b, uint64_t count, uint32_t batch) {
    ref_qpair *qp = &b->qp;
    uint32_t blocks = b->buffer_length >> b->block_shift;
    b->sum = 0;
    b->failures = 0;
    uint64_t i = 0;
    while (i < count) {
        uint32_t n = 0;
        for (; n < batch && i < count; n++, i++) {
            uint64_t lba = (i & 0xFFFF) * blocks;
            if (ref_submit_read(qp, b->nsid, lba, blocks, b->block_shift, b->max_blocks, b->buffer_iova, b->buffer_length, i) < 0)
                return UINT64_MAX;
        }
        ref_ring_sq(qp);
        null_device_service(&b->device);
        if (ref_reap(qp, UINT64_MAX, ref_bench_done, b) != n) return UINT64_MAX;
    }
    return b->failures ? UINT64_MAX : b->sum;
}

ref_stats ref_bench_stats(const ref_bench *b) { return b->qp.stats; }

uint64_t ref_bench_device_completions(const ref_bench *b) { return b->device.queues[0].completed; }
