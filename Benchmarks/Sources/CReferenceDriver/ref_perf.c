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

#include "ref_perf.h"
#include "ref_bench.h"

#include <stdlib.h>
#include <time.h>
#include <x86intrin.h>

/// hdrhistogram-swift's layout for 1...120e9 with 3 significant digits: 2048 sub-buckets (half:
/// 1024, magnitude 10), unit magnitude 0, 27 buckets, (27 + 1) * 1024 counts.
enum { HDR_HALF_MAGNITUDE = 10, HDR_HALF_COUNT = 1 << HDR_HALF_MAGNITUDE, HDR_MASK = 2 * HDR_HALF_COUNT - 1,
       HDR_ZERO_BASE = 64 - 0 - HDR_HALF_MAGNITUDE - 1, HDR_COUNTS = (27 + 1) * HDR_HALF_COUNT };

struct ref_hdr {
    uint64_t counts[HDR_COUNTS];
    uint64_t total, max, min_nonzero;
};

struct ref_perf {
    ref_bench *bench;
    uint32_t depth, free_count;
    uint32_t *free_slots;
    uint64_t *slot_start, *slot_lba;
    uint8_t *slot_is_read;
    uint64_t units, rng, completed, errors, shared_progress;
    int use_tsc;
    uint64_t ns_per_tick_q32;
    struct ref_hdr histogram;
};

static inline uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t monotonic_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t ticks_now(const ref_perf *p) { return p->use_tsc ? __rdtsc() : monotonic_ns(CLOCK_MONOTONIC); }

static inline uint64_t ticks_ns(const ref_perf *p, uint64_t ticks) {
    unsigned __int128 product = (unsigned __int128)ticks * p->ns_per_tick_q32;
    return (uint64_t)(product >> 32);
}

static inline void hdr_record(struct ref_hdr *h, uint64_t value) {
    int bucket = HDR_ZERO_BASE - __builtin_clzll(value | HDR_MASK);
    int sub = (int)(value >> bucket);
    int index = ((bucket + 1) << HDR_HALF_MAGNITUDE) + (sub - HDR_HALF_COUNT);
    if (index < 0 || index >= HDR_COUNTS) return;
    h->counts[index]++;
    h->total++;
    if (value > h->max) h->max = value;
    if (value < h->min_nonzero && value != 0) h->min_nonzero = value;
}

static void perf_done(void *ctx, const ref_completion *c) {
    ref_perf *p = ctx;
    uint32_t slot = (uint32_t)c->token;
    hdr_record(&p->histogram, ticks_ns(p, ticks_now(p) - p->slot_start[slot]));
    if (c->status != 0) p->errors++;
    p->free_slots[p->free_count++] = slot;
    p->completed++;
}

ref_perf *ref_perf_create(ref_bench *bench, uint32_t depth, uint64_t units, int use_tsc, uint64_t ns_per_tick_q32) {
    if (!bench || depth < 1 || depth > bench->qp.capacity || units == 0) return NULL;
    ref_perf *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->free_slots = calloc(depth, sizeof *p->free_slots);
    p->slot_start = calloc(depth, sizeof *p->slot_start);
    p->slot_lba = calloc(depth, sizeof *p->slot_lba);
    p->slot_is_read = calloc(depth, 1);
    if (!p->free_slots || !p->slot_start || !p->slot_lba || !p->slot_is_read) {
        ref_perf_destroy(p);
        return NULL;
    }
    for (uint32_t i = 0; i < depth; i++) p->free_slots[i] = i;
    p->bench = bench;
    p->depth = depth;
    p->free_count = depth;
    p->units = units;
    p->rng = 0x5eed;
    p->use_tsc = use_tsc;
    p->ns_per_tick_q32 = ns_per_tick_q32;
    p->histogram.min_nonzero = UINT64_MAX;
    return p;
}

void ref_perf_destroy(ref_perf *p) {
    if (!p) return;
    free(p->free_slots);
    free(p->slot_start);
    free(p->slot_lba);
    free(p->slot_is_read);
    free(p);
}

uint64_t ref_perf_run(ref_perf *p, uint64_t count) {
    ref_bench *b = p->bench;
    ref_qpair *qp = &b->qp;
    uint32_t blocks = b->buffer_length >> b->block_shift;
    uint64_t issued = 0, outstanding = 0;
    uint64_t deadline = UINT64_MAX;  // a run by count: the coarse clock is still read per batch
    int time_up = 0;
    p->completed = 0;
    p->errors = 0;
    for (;;) {
        uint32_t batch = 0;
        while (p->free_count > 0 && issued < count && !time_up) {
            uint32_t slot = p->free_slots[p->free_count - 1];
            uint64_t lba = (splitmix64(&p->rng) % p->units) * blocks;
            p->slot_lba[slot] = lba;
            p->slot_is_read[slot] = 1;
            p->slot_start[slot] = ticks_now(p);
            // The null device never touches data: every slot may name the one buffer.
            int rc = ref_submit_read(qp, b->nsid, lba, blocks, b->block_shift, b->max_blocks, b->buffer_iova, b->buffer_length, slot);
            if (rc == REF_EFULL || rc == REF_ENOCID) break;
            if (rc < 0) return UINT64_MAX;
            p->free_count--;
            issued++;
            outstanding++;
            batch++;
        }
        if (batch > 0) ref_ring_sq(qp);
        if (outstanding == 0) break;
        uint64_t before = p->completed;
        while (p->completed == before) {
            null_device_service(&b->device);
            ref_reap(qp, UINT64_MAX, perf_done, p);
        }
        uint64_t reaped = p->completed - before;
        outstanding -= reaped;
        __atomic_fetch_add(&p->shared_progress, reaped, __ATOMIC_RELAXED);
        if (!time_up && issued < count && monotonic_ns(CLOCK_MONOTONIC_COARSE) >= deadline) time_up = 1;
    }
    return p->errors ? UINT64_MAX : p->completed;
}

uint64_t ref_perf_recorded(const ref_perf *p) { return p->histogram.total; }
