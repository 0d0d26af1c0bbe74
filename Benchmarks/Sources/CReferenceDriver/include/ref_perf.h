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

#ifndef REF_PERF_H
#define REF_PERF_H

#include <stdint.h>

#include "ref_driver.h"

/// The C twin of NVMeWorkload's per-thread loop (what `vfioctl nvme perf` runs per queue pair),
/// over the reference driver and the null device: the same work per I/O as the Swift loop, so
/// scripts/bench.sh can report the whole perf loop's instructions per I/O against C (issue 19
/// item 4), not only the driver's. Per I/O: a slot from a free stack, a random LBA (SplitMix64
/// modulo the working set), a tick read at submit and at completion, the latency recorded in an
/// HDR histogram laid out as hdrhistogram-swift's (1 ns to 120 s, 3 significant digits), the
/// status checked, the slot pushed back; per batch: one doorbell, a poll-mode wait (device
/// service, reap, until one completes), a relaxed atomic add to the shared progress counter and
/// one coarse-clock read for the deadline.
typedef struct ref_perf ref_perf;

/// A loop over `bench`'s queue pair at `depth` (1...capacity) I/Os in flight, over `units`
/// 4 KiB units; ticks from `rdtsc` when `use_tsc`, else CLOCK_MONOTONIC (as TickClock decides),
/// converted with `ns_per_tick_q32` (32.32 fixed point). NULL on a bad argument or no memory.
ref_perf *ref_perf_create(ref_bench *bench, uint32_t depth, uint64_t units, int use_tsc, uint64_t ns_per_tick_q32);
void ref_perf_destroy(ref_perf *p);

/// Runs `count` random 4 KiB reads; returns how many completed successfully (the histogram
/// holds as many values), or UINT64_MAX if a submission failed.
uint64_t ref_perf_run(ref_perf *p, uint64_t count) __attribute__((noinline));

/// Values in the histogram (the twin's check that every latency was recorded).
uint64_t ref_perf_recorded(const ref_perf *p);

#endif
