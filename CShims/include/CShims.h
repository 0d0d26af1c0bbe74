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

/// CShims: the thin C layer under swift-vfio.
///
/// Only what Swift cannot express or import well lives here: ioctl request numbers (macros Swift
/// cannot import), non-variadic ioctl wrappers, volatile MMIO accessors, CPU barriers and the pause
/// hint, eventfd/epoll (epoll_event is packed on x86-64), mmap of BARs, and libnuma calls. (libpci, which
/// only host administration needs, is the separate CLibPCI target, so a driver does not link it.)
/// No policy and no allocation decisions: those are in Swift.
#ifndef CSHIMS_H
#define CSHIMS_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/vfio.h>
#include "CShimsIOMMUFD.h"

// MARK: - VFIO ioctl request numbers (exported as constants: Swift cannot import _IO macros)

extern const unsigned long SHIM_VFIO_GET_API_VERSION;
extern const unsigned long SHIM_VFIO_CHECK_EXTENSION;
extern const unsigned long SHIM_VFIO_SET_IOMMU;
extern const unsigned long SHIM_VFIO_GROUP_GET_STATUS;
extern const unsigned long SHIM_VFIO_GROUP_SET_CONTAINER;
extern const unsigned long SHIM_VFIO_GROUP_UNSET_CONTAINER;
extern const unsigned long SHIM_VFIO_GROUP_GET_DEVICE_FD;
extern const unsigned long SHIM_VFIO_DEVICE_GET_INFO;
extern const unsigned long SHIM_VFIO_DEVICE_GET_REGION_INFO;
extern const unsigned long SHIM_VFIO_DEVICE_GET_IRQ_INFO;
extern const unsigned long SHIM_VFIO_DEVICE_SET_IRQS;
extern const unsigned long SHIM_VFIO_DEVICE_RESET;
extern const unsigned long SHIM_VFIO_IOMMU_GET_INFO;
extern const unsigned long SHIM_VFIO_IOMMU_MAP_DMA;
extern const unsigned long SHIM_VFIO_IOMMU_UNMAP_DMA;

/// ioctl(2) with a pointer argument. Returns -1 and leaves errno set on failure.
int shim_ioctl_ptr(int fd, unsigned long request, void *arg);
/// ioctl(2) with an integer argument (VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU).
int shim_ioctl_int(int fd, unsigned long request, unsigned long arg);
/// ioctl(2) with no argument (VFIO_GET_API_VERSION, VFIO_DEVICE_RESET).
int shim_ioctl_none(int fd, unsigned long request);

/// The errno of the calling thread, read at once after a failed call.
int shim_errno(void);

// MARK: - mmap of BARs and DMA memory

/// mmap(2) of `length` bytes of `fd` at `offset` (a VFIO region offset). Returns NULL on failure
/// (errno set), never MAP_FAILED, so Swift sees an optional pointer.
void *shim_mmap_region(int fd, off_t offset, size_t length, int writable);
/// Anonymous, private, populated memory for DMA. `huge_2m` asks for MAP_HUGETLB with 2 MiB pages.
/// Returns NULL on failure with errno set.
void *shim_mmap_anonymous(size_t length, int huge_2m);
int shim_munmap(void *address, size_t length);
/// Reserves `length` bytes of address space with no access (PROT_NONE, MAP_NORESERVE), so that the
/// mmappable areas of a sparse BAR can be placed at their offsets inside one contiguous window.
/// Returns NULL on failure with errno set.
void *shim_mmap_reserve(size_t length);
/// mmap(2) of `length` bytes of `fd` at `offset` exactly at `address` (MAP_FIXED, MAP_SHARED),
/// replacing part of a reservation. Returns NULL on failure with errno set.
void *shim_mmap_region_fixed(void *address, int fd, off_t offset, size_t length, int writable);

// MARK: - eventfd and epoll

int shim_eventfd(unsigned int initial, int nonblocking);
/// Reads the 8-byte eventfd counter (resetting it). Returns 1 with *value set, 0 when it would block,
/// -1 on error (errno set).
int shim_eventfd_read(int fd, uint64_t *value);
/// Adds 1 to the eventfd counter, which wakes a waiter.
int shim_eventfd_signal(int fd);
int shim_epoll_create(void);
/// Adds `target` for EPOLLIN with `tag` returned by shim_epoll_wait.
int shim_epoll_add(int epfd, int target, uint64_t tag);
int shim_epoll_remove(int epfd, int target);
/// Sets what `target` (already added) is watched for: EPOLLIN when `want_read`, EPOLLOUT when
/// `want_write` (a socket whose output backed up). Level-triggered, like shim_epoll_add.
int shim_epoll_modify(int epfd, int target, uint64_t tag, int want_read, int want_write);
/// Waits up to `timeout_ms` (-1 forever) and stores the tags of ready fds. Returns the count,
/// 0 on timeout, -1 on error (EINTR is returned as an error for the caller to retry).
int shim_epoll_wait(int epfd, uint64_t *tags, int max_tags, int timeout_ms);
/// poll(2) for POLLIN on one fd. Returns 1 ready, 0 timeout, -1 error.
int shim_poll_in(int fd, int timeout_ms);

// MARK: - CPU barriers and the pause hint
//
// Naming follows Linux (arch/x86/include/asm/barrier.h, arch/arm64/include/asm/barrier.h).
// x86-64 is TSO: ordinary stores are not reordered with other stores, so dma_wmb/dma_rmb are
// compiler barriers; wmb/rmb/mb are sfence/lfence/mfence as in the kernel.

static inline __attribute__((always_inline)) void shim_compiler_barrier(void) {
    __asm__ __volatile__("" ::: "memory");
}

static inline __attribute__((always_inline)) void shim_mb(void) {
#if defined(__x86_64__)
    __asm__ __volatile__("mfence" ::: "memory");
#elif defined(__aarch64__)
    __asm__ __volatile__("dsb sy" ::: "memory");
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

static inline __attribute__((always_inline)) void shim_wmb(void) {
#if defined(__x86_64__)
    __asm__ __volatile__("sfence" ::: "memory");
#elif defined(__aarch64__)
    __asm__ __volatile__("dsb st" ::: "memory");
#else
    __atomic_thread_fence(__ATOMIC_RELEASE);
#endif
}

static inline __attribute__((always_inline)) void shim_rmb(void) {
#if defined(__x86_64__)
    __asm__ __volatile__("lfence" ::: "memory");
#elif defined(__aarch64__)
    __asm__ __volatile__("dsb ld" ::: "memory");
#else
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
#endif
}

/// Orders loads from coherent DMA memory (a CQE's phase, then its other fields).
static inline __attribute__((always_inline)) void shim_dma_rmb(void) {
#if defined(__x86_64__)
    __asm__ __volatile__("" ::: "memory");
#elif defined(__aarch64__)
    __asm__ __volatile__("dmb oshld" ::: "memory");
#else
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
#endif
}

/// Orders stores to coherent DMA memory among themselves (an entry before the word that publishes it).
static inline __attribute__((always_inline)) void shim_dma_wmb(void) {
#if defined(__x86_64__)
    __asm__ __volatile__("" ::: "memory");
#elif defined(__aarch64__)
    __asm__ __volatile__("dmb oshst" ::: "memory");
#else
    __atomic_thread_fence(__ATOMIC_RELEASE);
#endif
}

/// Spin-wait hint: `pause` on x86 (saves power, yields to the sibling hyperthread), `yield` on arm64.
static inline __attribute__((always_inline)) void shim_cpu_pause(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

// MARK: - Time-stamp counter (measurement ticks: TickClock in Swift)

/// The CPU's time-stamp counter (`rdtsc`, unserialised: for intervals, as SPDK and fio read it);
/// 0 where there is none (not x86-64).
static inline __attribute__((always_inline)) uint64_t shim_rdtsc(void) {
#if defined(__x86_64__)
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
#else
    return 0;
#endif
}

/// 1 when the TSC is invariant (CPUID 8000_0007h EDX bit 8: constant rate in every P-, C- and
/// T-state), else 0 (also when the leaf is missing, or not x86-64).
static inline int shim_has_invariant_tsc(void) {
#if defined(__x86_64__)
    uint32_t a, b, c, d;
    __asm__ __volatile__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000000u), "c"(0));
    if (a < 0x80000007u) return 0;
    __asm__ __volatile__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000007u), "c"(0));
    return (d >> 8) & 1;
#else
    return 0;
#endif
}

// MARK: - Volatile MMIO accessors
//
// One access per call, never merged, split, elided or hoisted: the pointer is volatile. The access
// is also an atomic one (relaxed for loads and stores of registers), which on x86-64 and arm64
// compiles to exactly one plain `mov`/`ldr`/`str` of the given width (checked in the release build's
// assembly: `shim_mmio_read32` is a single `movl (%rdi), %eax`). Being atomic costs nothing on
// hardware and lets ThreadSanitizer see the emulated device's registers, which another thread reads,
// as the synchronised accesses they are. Ordering against DMA memory is the caller's job, with the
// barriers above.

static inline __attribute__((always_inline)) uint8_t shim_mmio_read8(const volatile void *a) {
    return __atomic_load_n((const volatile uint8_t *)a, __ATOMIC_RELAXED);
}
static inline __attribute__((always_inline)) uint16_t shim_mmio_read16(const volatile void *a) {
    return __atomic_load_n((const volatile uint16_t *)a, __ATOMIC_RELAXED);
}
static inline __attribute__((always_inline)) uint32_t shim_mmio_read32(const volatile void *a) {
    return __atomic_load_n((const volatile uint32_t *)a, __ATOMIC_RELAXED);
}
static inline __attribute__((always_inline)) uint64_t shim_mmio_read64(const volatile void *a) {
    return __atomic_load_n((const volatile uint64_t *)a, __ATOMIC_RELAXED);
}
static inline __attribute__((always_inline)) void shim_mmio_write8(volatile void *a, uint8_t v) {
    __atomic_store_n((volatile uint8_t *)a, v, __ATOMIC_RELAXED);
}
static inline __attribute__((always_inline)) void shim_mmio_write16(volatile void *a, uint16_t v) {
    __atomic_store_n((volatile uint16_t *)a, v, __ATOMIC_RELAXED);
}
static inline __attribute__((always_inline)) void shim_mmio_write32(volatile void *a, uint32_t v) {
    __atomic_store_n((volatile uint32_t *)a, v, __ATOMIC_RELAXED);
}
static inline __attribute__((always_inline)) void shim_mmio_write64(volatile void *a, uint64_t v) {
    __atomic_store_n((volatile uint64_t *)a, v, __ATOMIC_RELAXED);
}

/// Doorbell store: a release store. On x86-64 this is the same single `mov` as a relaxed store, and
/// the driver still issues `wmb` before it as the protocol requires; the release makes the emulated
/// controller's thread (which reads the doorbell with an acquire load) see the SQE it publishes, in
/// ThreadSanitizer's model as well as in the CPU's.
static inline __attribute__((always_inline)) void shim_mmio_write32_release(volatile void *a, uint32_t v) {
    __atomic_store_n((volatile uint32_t *)a, v, __ATOMIC_RELEASE);
}
/// The emulated controller's side of a doorbell: an acquire load.
static inline __attribute__((always_inline)) uint32_t shim_mmio_read32_acquire(const volatile void *a) {
    return __atomic_load_n((const volatile uint32_t *)a, __ATOMIC_ACQUIRE);
}

// MARK: - DMA memory words that are polled or published
//
// DMA memory is ordinary memory; only the word a side spins on needs a "load once" (READ_ONCE in
// the kernel), or the compiler may hoist it out of the loop. The CQE status word (which carries the
// phase tag) is read with an acquire load and written last, with a release store, by the emulated
// controller. On x86-64 both are plain moves.

static inline __attribute__((always_inline)) uint16_t shim_dma_load16_acquire(const volatile void *a) {
    return __atomic_load_n((const volatile uint16_t *)a, __ATOMIC_ACQUIRE);
}
static inline __attribute__((always_inline)) uint32_t shim_dma_load32_acquire(const volatile void *a) {
    return __atomic_load_n((const volatile uint32_t *)a, __ATOMIC_ACQUIRE);
}
static inline __attribute__((always_inline)) void shim_dma_store16_release(volatile void *a, uint16_t v) {
    __atomic_store_n((volatile uint16_t *)a, v, __ATOMIC_RELEASE);
}
static inline __attribute__((always_inline)) void shim_dma_store32_release(volatile void *a, uint32_t v) {
    __atomic_store_n((volatile uint32_t *)a, v, __ATOMIC_RELEASE);
}

// MARK: - libnuma

/// numa_available() >= 0.
int shim_numa_available(void);
/// numa_max_node().
int shim_numa_max_node(void);
/// Binds the pages of [address, address+length) to `node` (numa_tonode_memory); call before first touch.
void shim_numa_bind_memory(void *address, size_t length, int node);

// MARK: - Process limits

/// RLIMIT_MEMLOCK soft limit in bytes; UINT64_MAX for unlimited. Returns -1 on error.
int shim_memlock_limit(uint64_t *soft, uint64_t *hard);

#endif
