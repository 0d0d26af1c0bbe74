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

#ifndef REF_BENCH_INTERNAL_H
#define REF_BENCH_INTERNAL_H

#include "include/ref_driver.h"

/// The reference bench's state, shared by the driver loops (ref_driver.c) and the perf-loop
/// twin (ref_perf.c); private to this target.
struct ref_bench {
    ref_qpair qp;
    null_device device;
    /// Doorbell page: SQ tail of queue 1 at 0x1008, CQ head at 0x100c (stride 4), as in BAR0.
    uint8_t *bar;
    uint8_t *memory;   ///< SQ, CQ, list pages, data buffer, one mapping
    size_t memory_length;
    uint64_t buffer_iova;
    uint32_t buffer_length;
    uint32_t nsid, block_shift, max_blocks;
    uint64_t sum;
    uint64_t failures;
};

#endif
