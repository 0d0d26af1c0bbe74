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

#include "ref_nic.h"

#include <stdlib.h>
#include <string.h>

#define DD 0x1u
#define EOP 0x2u
/// CE, SE, SEQ, CXE, RXE (legacy errors byte): the frame errors that drop a frame (checksum
/// errors do not).
#define FRAME_ERRORS 0x97u
#define TX_COMMAND ((1u << 0) | (1u << 1) | (1u << 3)) /* EOP, IFCS, RS */

static inline void wmb(void) { __asm__ volatile("sfence" ::: "memory"); }
static inline void dma_rmb(void) { __asm__ volatile("" ::: "memory"); }
static inline uint32_t load_acquire(const void *p) { return __atomic_load_n((const uint32_t *)p, __ATOMIC_ACQUIRE); }

struct ref_nic_bench {
    null_nic device;
    ref_nic_queue rx, tx;
    uint32_t registers[4]; ///< RDH, RDT, TDH, TDT as plain words
    uint64_t sink;
};

static int pool_init(ref_pool *p, uint32_t count, uint64_t iova) {
    p->base = aligned_alloc(4096, (size_t)count * REF_NIC_BUFFER_SIZE);
    p->free_ring = malloc(sizeof(int32_t) * count);
    p->in_use = calloc(count, 1);
    if (!p->base || !p->free_ring || !p->in_use) return -1;
    p->base_iova = iova;
    p->capacity = count;
    p->free_head = 0;
    p->free_count = count;
    for (uint32_t i = 0; i < count; i++) p->free_ring[i] = (int32_t)i;
    return 0;
}

static inline int pool_allocate(ref_pool *p) {
    if (p->free_count == 0) return -1;
    p->free_count--;
    int index = p->free_ring[p->free_head];
    if (++p->free_head == p->capacity) p->free_head = 0;
    p->in_use[index] = 1;
    return index;
}

static inline void pool_free(ref_pool *p, int index) {
    if (index < 0 || (uint32_t)index >= p->capacity || p->in_use[index] != 1) abort();
    p->in_use[index] = 0;
    uint32_t back = p->free_head + p->free_count;
    if (back >= p->capacity) back -= p->capacity;
    p->free_ring[back] = index;
    p->free_count++;
}

static inline uint8_t *descriptor(const ref_nic_queue *q, uint32_t slot) { return q->descriptors + (uint64_t)slot * 16; }

static inline void publish_tail(ref_nic_queue *q) {
    wmb();
    __atomic_store_n(q->tail_register, q->tail, __ATOMIC_RELEASE);
}

/// The first slot not posted must not be done; if it is, its status is cleared.
static inline int unposted_slot_is_done(ref_nic_queue *q) {
    if (q->posted >= q->entries) return 0;
    uint8_t *status = descriptor(q, q->tail) + q->status_offset;
    if ((load_acquire(status) & DD) == 0) return 0;
    *(uint32_t *)status = 0;
    return 1;
}

static void refill(ref_nic_queue *q) {
    uint32_t added = 0;
    while (q->posted < q->entries - 1) {
        int buffer = pool_allocate(&q->pool);
        if (buffer < 0) break;
        uint8_t *d = descriptor(q, q->tail);
        *(uint64_t *)d = q->pool.base_iova + (uint64_t)buffer * REF_NIC_BUFFER_SIZE;
        *(uint64_t *)(d + 8) = 0;
        q->slot_buffer[q->tail] = buffer;
        q->tail = (q->tail + 1) & (q->entries - 1);
        q->posted++;
        added++;
    }
    if (added == 0) return;
    publish_tail(q);
    q->tail_writes++;
}

/// Up to `batch` frames; their lengths are added to *sink. Returns how many, or -1 on a bad descriptor.
static inline int receive(ref_nic_bench *b, uint32_t batch) {
    ref_nic_queue *q = &b->rx;
    null_nic_service(&b->device);
    int count = 0, failed = 0;
    while ((uint32_t)count < batch && q->posted > 0) {
        uint32_t slot = q->next;
        uint8_t *d = descriptor(q, slot);
        uint32_t status_word = load_acquire(d + q->status_offset);
        if ((status_word & DD) == 0) break;
        dma_rmb();
        uint32_t length = *(uint16_t *)(d + q->length_offset);
        uint8_t status = (uint8_t)status_word;
        uint8_t errors = (uint8_t)(q->extended ? status_word >> 24 : status_word >> 8);
        uint32_t rss_hash = q->extended ? *(uint32_t *)(d + 4) : 0;
        uint8_t rss_type = q->extended ? (uint8_t)(*(uint32_t *)d & 0xF) : 0;
        int buffer = q->slot_buffer[slot];
        q->slot_buffer[slot] = -1;
        *(uint64_t *)(d + 8) = 0;
        q->next = (slot + 1) & (q->entries - 1);
        q->posted--;
        if (!(status & EOP) || length == 0 || length > REF_NIC_BUFFER_SIZE) {
            pool_free(&q->pool, buffer);
            q->invalid++;
            failed = 1;
            break;
        }
        if (errors & FRAME_ERRORS) {
            pool_free(&q->pool, buffer);
            q->error_frames++;
            continue;
        }
        b->sink += length + rss_hash + rss_type; /* the caller's use of the frame */
        pool_free(&q->pool, buffer);
        q->packets++;
        q->bytes += length;
        count++;
    }
    if (!failed && unposted_slot_is_done(q)) {
        q->invalid++;
        failed = 1;
    }
    refill(q);
    return failed ? -1 : count;
}

static inline int reclaim_done(ref_nic_queue *q) {
    while (q->posted > 0) {
        uint8_t *d = descriptor(q, q->next);
        if ((load_acquire(d + 12) & DD) == 0) break;
        dma_rmb();
        *(uint32_t *)(d + 12) = 0;
        pool_free(&q->pool, q->slot_buffer[q->next]);
        q->slot_buffer[q->next] = -1;
        q->next = (q->next + 1) & (q->entries - 1);
        q->posted--;
        q->reclaimed++;
    }
    if (unposted_slot_is_done(q)) {
        q->invalid++;
        return -1;
    }
    return 0;
}

static inline int transmit(ref_nic_bench *b, uint32_t count) {
    ref_nic_queue *q = &b->tx;
    null_nic_service(&b->device);
    if (reclaim_done(q) != 0) return -1;
    uint32_t queued = 0;
    int failed = 0;
    while (queued < count && q->posted < q->entries - 1) {
        int buffer = pool_allocate(&q->pool);
        if (buffer < 0) break;
        uint8_t *address = q->pool.base + (uint64_t)buffer * REF_NIC_BUFFER_SIZE;
        *(uint32_t *)address = queued; /* the caller's fill */
        uint32_t length = 60;
        if (length == 0 || length > REF_NIC_BUFFER_SIZE) {
            pool_free(&q->pool, buffer);
            failed = 1;
            break;
        }
        uint8_t *d = descriptor(q, q->tail);
        *(uint64_t *)d = q->pool.base_iova + (uint64_t)buffer * REF_NIC_BUFFER_SIZE;
        *(uint64_t *)(d + 8) = (uint64_t)length | (uint64_t)TX_COMMAND << 24;
        q->slot_buffer[q->tail] = buffer;
        q->tail = (q->tail + 1) & (q->entries - 1);
        q->posted++;
        queued++;
        q->bytes += length;
    }
    if (queued < count && !failed) q->backpressure++;
    if (queued > 0) {
        publish_tail(q);
        q->tail_writes++;
        q->packets += queued;
    }
    return failed ? -1 : (int)queued;
}

static int queue_init(ref_nic_queue *q, uint32_t entries, volatile uint32_t *tail_register, uint64_t iova) {
    memset(q, 0, sizeof(*q));
    q->descriptors = aligned_alloc(4096, (size_t)entries * 16);
    q->slot_buffer = malloc(sizeof(int32_t) * entries);
    if (!q->descriptors || !q->slot_buffer) return -1;
    memset(q->descriptors, 0, (size_t)entries * 16);
    for (uint32_t i = 0; i < entries; i++) q->slot_buffer[i] = -1;
    q->entries = entries;
    q->tail_register = tail_register;
    q->status_offset = 12; /* legacy descriptors, as the Swift driver uses with one queue */
    q->length_offset = 8;
    q->extended = 0;
    return pool_init(&q->pool, entries, iova);
}

ref_nic_bench *ref_nic_bench_create(uint32_t entries) {
    if (entries < 8 || (entries & (entries - 1)) != 0) return NULL;
    ref_nic_bench *b = calloc(1, sizeof(*b));
    if (!b) return NULL;
    // The null device writes no frame data, so the "IOVAs" are only put into descriptors.
    if (queue_init(&b->rx, entries, &b->registers[1], 0x100000) != 0 ||
        queue_init(&b->tx, entries, &b->registers[3], 0x10000000)) {
        ref_nic_bench_destroy(b);
        return NULL;
    }
    null_nic_ring_init(&b->device.receive, 1, b->rx.descriptors, entries, &b->registers[1], &b->registers[0], 0, 60);
    null_nic_ring_init(&b->device.transmit, 0, b->tx.descriptors, entries, &b->registers[3], &b->registers[2], 0, 0);
    b->device.live = 3;
    refill(&b->rx);
    return b;
}

void ref_nic_bench_destroy(ref_nic_bench *b) {
    if (!b) return;
    ref_nic_queue *queues[2] = {&b->rx, &b->tx};
    for (int i = 0; i < 2; i++) {
        free(queues[i]->descriptors);
        free(queues[i]->slot_buffer);
        free(queues[i]->pool.base);
        free(queues[i]->pool.free_ring);
        free(queues[i]->pool.in_use);
    }
    free(b);
}

uint64_t ref_nic_bench_rx(ref_nic_bench *b, uint64_t count) {
    uint64_t received = 0, before = b->sink;
    while (received < count) {
        int n = receive(b, 32);
        if (n <= 0) return UINT64_MAX;
        received += (uint64_t)n;
    }
    return b->sink - before;
}

uint64_t ref_nic_bench_tx(ref_nic_bench *b, uint64_t count) {
    uint64_t sent = 0;
    while (sent < count) {
        int n = transmit(b, 32);
        if (n <= 0) return UINT64_MAX;
        sent += (uint64_t)n;
    }
    return sent;
}

uint64_t ref_nic_bench_device_rx(const ref_nic_bench *b) { return b->device.receive.completed; }
uint64_t ref_nic_bench_device_tx(const ref_nic_bench *b) { return b->device.transmit.completed; }
