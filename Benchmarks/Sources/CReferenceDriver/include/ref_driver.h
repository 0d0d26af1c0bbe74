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

/// A C reference for the Swift driver's I/O path: the same submit/reap ring protocol over the same
/// memory layout, written the way a careful C driver would write it, so that Swift's cost per I/O
/// can be given as a ratio to C's.
///
/// Same work as `QueuePair.submit`/`reap` in Sources/NVMe, check for check:
/// - submit: SQ-full and free-command-id backpressure, block count and buffer length checks, PRP1/
///   PRP2/PRP list built per NVMe base 1.4, 4.3 (list page preallocated per command id), the SQE
///   built on the stack and copied into the 64-byte slot, tracker (token, in flight, opcode, coarse
///   submit time) updated, statistics counted;
/// - doorbell: one `sfence` then a 32-bit release store of the new tail per batch;
/// - reap: phase tag loaded with acquire, dma_rmb, the rest of the 16-byte CQE read, the entry
///   validated (command id in range and in flight, SQ id ours, SQ head between the last head and
///   our tail) before it completes anything, one CQ head doorbell store per batch, a callback per
///   completion with the token and decoded status.
///
/// Written for this benchmark (no code from SPDK or libvfn).
#ifndef REF_DRIVER_H
#define REF_DRIVER_H

#include <stdint.h>
#include <string.h>

#include "null_device.h"

/// NVMe 64-byte submission queue entry (NVMe base 1.4, Figure 105), in wire order.
struct ref_sqe {
    uint8_t opcode;
    uint8_t flags;
    uint16_t cid;
    uint32_t nsid;
    uint32_t cdw2, cdw3;
    uint64_t mptr;
    uint64_t prp1, prp2;
    uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};
_Static_assert(sizeof(struct ref_sqe) == 64, "SQE is 64 bytes");

/// Per command id: hot fields first, as in the Swift `CommandTracker`.
typedef struct {
    uint64_t token;
    uint64_t *prp_list;
    uint64_t prp_list_iova;
    uint8_t in_flight;
    uint8_t opcode;
    uint64_t submitted_at;
} ref_tracker;

typedef struct {
    uint64_t submitted, completed, sq_doorbells, cq_doorbells, backpressure, invalid_completions;
} ref_stats;

typedef struct {
    uint64_t token;
    uint16_t cid;
    uint16_t status;   ///< the status field without the phase bit (SCT, SC, CRD, M, DNR)
    uint32_t dw0;
} ref_completion;

typedef struct {
    uint8_t *sq;
    volatile uint32_t *sq_doorbell;
    uint32_t size;
    uint32_t sq_tail, sq_head, sq_unpublished;

    uint8_t *cq;
    volatile uint32_t *cq_doorbell;
    uint32_t cq_head, cq_unpublished;
    uint16_t cq_phase;

    ref_tracker *trackers;
    uint16_t *free_ids;
    uint32_t capacity, free_count;

    uint16_t qid;
    uint32_t max_transfer;
    uint64_t now;
    ref_stats stats;
} ref_qpair;

enum {
    REF_EFULL = -1,      ///< SQ full
    REF_ENOCID = -2,     ///< no free command id
    REF_EINVAL = -3,     ///< bad block count, misaligned or oversized buffer
    REF_ESMALL = -4,     ///< buffer smaller than the transfer
};

#define REF_PAGE 4096u
#define REF_LIST_ENTRIES (REF_PAGE / 8u)

static inline __attribute__((always_inline)) void ref_wmb(void) {
#if defined(__x86_64__)
    __asm__ __volatile__("sfence" ::: "memory");
#elif defined(__aarch64__)
    __asm__ __volatile__("dsb st" ::: "memory");
#else
    __atomic_thread_fence(__ATOMIC_RELEASE);
#endif
}

static inline __attribute__((always_inline)) void ref_dma_rmb(void) {
#if defined(__aarch64__)
    __asm__ __volatile__("dmb oshld" ::: "memory");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

static inline uint32_t ref_sq_occupied(const ref_qpair *qp) {
    return qp->sq_tail >= qp->sq_head ? qp->sq_tail - qp->sq_head : qp->sq_tail + qp->size - qp->sq_head;
}

/// PRP entries for `len` bytes at `iova` (NVMe base 1.4, 4.3), for a caller that checked `iova`
/// is dword aligned and `len` is 1...REF_LIST_ENTRIES * REF_PAGE (Swift: `PRPBuilder.pointers`).
static inline __attribute__((always_inline)) void
ref_prp_pointers(uint64_t iova, uint32_t len, ref_tracker *t, uint64_t *prp1, uint64_t *prp2) {
    uint32_t first = REF_PAGE - (uint32_t)(iova & (REF_PAGE - 1));
    *prp1 = iova;
    if (len <= first) { *prp2 = 0; return; }
    uint64_t page = (iova | (REF_PAGE - 1)) + 1;
    uint32_t rest = len - first;
    if (rest <= REF_PAGE) { *prp2 = page; return; }
    uint32_t n = (rest + REF_PAGE - 1) / REF_PAGE;
    for (uint32_t i = 0; i < n; i++, page += REF_PAGE) t->prp_list[i] = page;
    *prp2 = t->prp_list_iova;
}

/// Read `nblocks` blocks at `lba` into the buffer at `iova` (`buf_len` bytes). Returns the command
/// id, or a negative REF_E* code with nothing written. The doorbell is not rung.
static inline __attribute__((always_inline)) int
ref_submit_read(ref_qpair *qp, uint32_t nsid, uint64_t lba, uint32_t nblocks, uint32_t block_shift,
                uint32_t max_blocks, uint64_t iova, uint32_t buf_len, uint64_t token) {
    if (nblocks < 1 || nblocks > max_blocks) return REF_EINVAL;
    uint32_t bytes = nblocks << block_shift;
    if (buf_len < bytes) return REF_ESMALL;
    if (ref_sq_occupied(qp) == qp->size - 1) { qp->stats.backpressure++; return REF_EFULL; }
    if (qp->free_count == 0) { qp->stats.backpressure++; return REF_ENOCID; }
    uint16_t cid = qp->free_ids[--qp->free_count];
    ref_tracker *t = &qp->trackers[cid];
    if (bytes > qp->max_transfer) { qp->free_ids[qp->free_count++] = cid; return REF_EINVAL; }

    struct ref_sqe cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.opcode = 0x02;
    cmd.cid = cid;
    cmd.nsid = nsid;
    cmd.cdw10 = (uint32_t)lba;
    cmd.cdw11 = (uint32_t)(lba >> 32);
    cmd.cdw12 = nblocks - 1;
    if (iova & 3) { qp->free_ids[qp->free_count++] = cid; return REF_EINVAL; }
    // max_transfer is at most one list page's reach, so the PRP builder needs no check of its own.
    if (bytes > 0) ref_prp_pointers(iova, bytes, t, &cmd.prp1, &cmd.prp2);
    t->token = token;
    t->in_flight = 1;
    t->opcode = cmd.opcode;
    t->submitted_at = qp->now;
    memcpy(qp->sq + (size_t)qp->sq_tail * 64, &cmd, sizeof cmd);
    qp->sq_tail = qp->sq_tail + 1 == qp->size ? 0 : qp->sq_tail + 1;
    qp->sq_unpublished++;
    qp->stats.submitted++;
    return cid;
}

/// One SQ tail doorbell store for everything submitted since the last one.
static inline __attribute__((always_inline)) void ref_ring_sq(ref_qpair *qp) {
    if (qp->sq_unpublished == 0) return;
    ref_wmb();  // SQEs before the tail the device will fetch them by
    __atomic_store_n(qp->sq_doorbell, qp->sq_tail, __ATOMIC_RELEASE);
    qp->sq_unpublished = 0;
    qp->stats.sq_doorbells++;
}

/// Whether a reported SQ head can follow the last one: forward, at most up to our tail.
static inline __attribute__((always_inline)) int ref_accepts_head(const ref_qpair *qp, uint32_t head) {
    if (head >= qp->size) return 0;
    uint32_t advance = head >= qp->sq_head ? head - qp->sq_head : head + qp->size - qp->sq_head;
    return advance <= ref_sq_occupied(qp);
}

/// Consumes up to `limit` new CQEs, calling `done` for each valid one; one CQ doorbell store.
///
/// Written the plain way: ring indices read and written through `qp`, the SQ occupancy recomputed
/// for each CQE. Swift's `reap` keeps the indices in locals and tracks the occupancy as the head
/// moves; the same checks written that way in C cost more here (clang spills; 200 instructions per
/// I/O at QD1 against 180, README Performance), so the reference keeps the cheaper form. `limit`
/// is 64-bit, as Swift's `Int`, so a constant UINT64_MAX folds the `count < limit` test away.
static inline __attribute__((always_inline)) uint32_t
ref_reap(ref_qpair *qp, uint64_t limit, void (*done)(void *, const ref_completion *), void *ctx) {
    uint32_t count = 0, examined = 0;
    while ((uint64_t)count < limit && examined < qp->size) {
        uint8_t *cqe = qp->cq + (size_t)qp->cq_head * 16;
        uint16_t sp = __atomic_load_n((const uint16_t *)(cqe + 14), __ATOMIC_ACQUIRE);
        if ((sp & 1) != qp->cq_phase) break;
        ref_dma_rmb();
        uint32_t dw0;
        uint16_t sqhd, sqid, cid;
        memcpy(&dw0, cqe, 4);
        memcpy(&sqhd, cqe + 8, 2);
        memcpy(&sqid, cqe + 10, 2);
        memcpy(&cid, cqe + 12, 2);
        if (++qp->cq_head == qp->size) { qp->cq_head = 0; qp->cq_phase ^= 1; }
        qp->cq_unpublished++;
        examined++;
        if (cid >= qp->capacity || !qp->trackers[cid].in_flight || sqid != qp->qid || !ref_accepts_head(qp, sqhd)) {
            qp->stats.invalid_completions++;
            continue;
        }
        qp->sq_head = sqhd;
        ref_tracker *t = &qp->trackers[cid];
        t->in_flight = 0;
        ref_completion c = { .token = t->token, .cid = cid, .status = (uint16_t)(sp >> 1), .dw0 = dw0 };
        qp->free_ids[qp->free_count++] = cid;
        count++;
        done(ctx, &c);
    }
    if (qp->cq_unpublished) {
        __atomic_store_n(qp->cq_doorbell, qp->cq_head, __ATOMIC_RELEASE);
        qp->cq_unpublished = 0;
        qp->stats.cq_doorbells++;
    }
    qp->stats.completed += count;
    return count;
}

// MARK: - The benchmark harness: a queue pair over the null device

typedef struct ref_bench ref_bench;

/// A queue pair of `entries` entries (depth entries - 1) over the null device, with one data
/// buffer of `transfer_bytes` (a multiple of 512; 4096 fits PRP1 alone, more builds PRP2 or a
/// list). NULL on allocation failure.
ref_bench *ref_bench_create(uint32_t entries, uint32_t transfer_bytes);
void ref_bench_destroy(ref_bench *b);

/// QD1: submit one read, ring, let the null device complete it, reap it; `count` times.
/// Returns the sum of the tokens completed (a checksum: count*(count-1)/2), or UINT64_MAX on a
/// failed submission or a missing or failed completion.
uint64_t ref_bench_qd1(ref_bench *b, uint64_t count) __attribute__((noinline));

/// Batched: submit `batch` reads, ring once, device, reap them all; until `count` I/Os.
uint64_t ref_bench_batch(ref_bench *b, uint64_t count, uint32_t batch) __attribute__((noinline));

/// Driver statistics (to check that doorbells were batched and nothing was rejected).
ref_stats ref_bench_stats(const ref_bench *b);
/// The null device's completions so far.
uint64_t ref_bench_device_completions(const ref_bench *b);

#endif
