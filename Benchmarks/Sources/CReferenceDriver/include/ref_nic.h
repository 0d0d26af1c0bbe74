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

/// A C reference for the Swift NIC driver's packet path (Sources/NIC ReceiveQueue.receive,
/// refill, TransmitQueue.send, reclaimDone), check for check, over the same null 82574L engine:
/// - receive: DD loaded with acquire from the status dword, dma_rmb, length, status and errors
///   read (and the RSS hash and type with extended descriptors), the slot's buffer looked up and forgotten, the write-back cleared, EOP and the length
///   (1...2048) checked, frame errors dropped, the frame handed over, the buffer back to the pool
///   (double free checked), counters; after the batch the first unposted slot must not be done,
///   then a refill of every free buffer with one wmb and one RDT store;
/// - transmit: reclaim (DD with acquire, dma_rmb, write-back cleared, buffer back, the unposted
///   slot check), then per frame a buffer from the pool, the caller's fill (length checked),
///   a legacy descriptor (address; length | EOP, IFCS, RS), and one wmb and TDT store per batch.
///
/// Written for this benchmark (no code from ixy or Linux).
#ifndef REF_NIC_H
#define REF_NIC_H

#include <stdint.h>

#include "null_nic.h"

#define REF_NIC_BUFFER_SIZE 2048

/// A fixed pool of 2 KiB buffers handed out oldest-free first (PacketBufferPool).
typedef struct {
    uint8_t *base;
    uint64_t base_iova;
    int32_t *free_ring;
    uint8_t *in_use;
    uint32_t capacity;
    uint32_t free_head;
    uint32_t free_count;
} ref_pool;

/// One descriptor ring and its pool (DescriptorRing plus the queue's own counters).
typedef struct {
    uint8_t *descriptors;
    uint32_t entries;
    uint32_t tail;
    uint32_t next;           ///< receive: oldest posted; transmit: oldest outstanding
    uint32_t posted;         ///< receive: posted; transmit: outstanding
    int32_t *slot_buffer;
    ref_pool pool;
    volatile uint32_t *tail_register;
    /// Receive: where the status dword and the length are written back (legacy: 12 and 8;
    /// extended: 8 and 12), chosen at run time as the Swift queue does.
    uint32_t status_offset, length_offset;
    int extended;
    uint64_t packets, bytes, tail_writes, invalid, error_frames, reclaimed, backpressure;
} ref_nic_queue;

typedef struct ref_nic_bench ref_nic_bench;

/// A receive and a transmit queue of `entries` descriptors over a null NIC. NULL on failure.
ref_nic_bench *ref_nic_bench_create(uint32_t entries);
void ref_nic_bench_destroy(ref_nic_bench *b);

/// Receives `count` frames in batches of 32; returns the bytes received, or UINT64_MAX.
uint64_t ref_nic_bench_rx(ref_nic_bench *b, uint64_t count) __attribute__((noinline));
/// Sends `count` frames in batches of 32 (4 bytes written into each); returns how many, or UINT64_MAX.
uint64_t ref_nic_bench_tx(ref_nic_bench *b, uint64_t count) __attribute__((noinline));

uint64_t ref_nic_bench_device_rx(const ref_nic_bench *b);
uint64_t ref_nic_bench_device_tx(const ref_nic_bench *b);

#endif
