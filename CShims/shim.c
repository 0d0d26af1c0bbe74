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

#define _GNU_SOURCE
#include "CShims.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#include <numa.h>

const unsigned long SHIM_VFIO_GET_API_VERSION = VFIO_GET_API_VERSION;
const unsigned long SHIM_VFIO_CHECK_EXTENSION = VFIO_CHECK_EXTENSION;
const unsigned long SHIM_VFIO_SET_IOMMU = VFIO_SET_IOMMU;
const unsigned long SHIM_VFIO_GROUP_GET_STATUS = VFIO_GROUP_GET_STATUS;
const unsigned long SHIM_VFIO_GROUP_SET_CONTAINER = VFIO_GROUP_SET_CONTAINER;
const unsigned long SHIM_VFIO_GROUP_UNSET_CONTAINER = VFIO_GROUP_UNSET_CONTAINER;
const unsigned long SHIM_VFIO_GROUP_GET_DEVICE_FD = VFIO_GROUP_GET_DEVICE_FD;
const unsigned long SHIM_VFIO_DEVICE_GET_INFO = VFIO_DEVICE_GET_INFO;
const unsigned long SHIM_VFIO_DEVICE_GET_REGION_INFO = VFIO_DEVICE_GET_REGION_INFO;
const unsigned long SHIM_VFIO_DEVICE_GET_IRQ_INFO = VFIO_DEVICE_GET_IRQ_INFO;
const unsigned long SHIM_VFIO_DEVICE_SET_IRQS = VFIO_DEVICE_SET_IRQS;
const unsigned long SHIM_VFIO_DEVICE_RESET = VFIO_DEVICE_RESET;
const unsigned long SHIM_VFIO_IOMMU_GET_INFO = VFIO_IOMMU_GET_INFO;
const unsigned long SHIM_VFIO_IOMMU_MAP_DMA = VFIO_IOMMU_MAP_DMA;
const unsigned long SHIM_VFIO_IOMMU_UNMAP_DMA = VFIO_IOMMU_UNMAP_DMA;

int shim_ioctl_ptr(int fd, unsigned long request, void *arg) { return ioctl(fd, request, arg); }
int shim_ioctl_int(int fd, unsigned long request, unsigned long arg) { return ioctl(fd, request, arg); }
int shim_ioctl_none(int fd, unsigned long request) { return ioctl(fd, request); }
int shim_errno(void) { return errno; }

void *shim_mmap_region(int fd, off_t offset, size_t length, int writable) {
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    void *p = mmap(NULL, length, prot, MAP_SHARED, fd, offset);
    return p == MAP_FAILED ? NULL : p;
}

void *shim_mmap_anonymous(size_t length, int huge_2m) {
    int flags = MAP_PRIVATE | MAP_ANONYMOUS;
    if (huge_2m) flags |= MAP_HUGETLB | (21 << MAP_HUGE_SHIFT);
    void *p = mmap(NULL, length, PROT_READ | PROT_WRITE, flags, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int shim_munmap(void *address, size_t length) { return munmap(address, length); }

void *shim_mmap_reserve(size_t length) {
    void *p = mmap(NULL, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void *shim_mmap_region_fixed(void *address, int fd, off_t offset, size_t length, int writable) {
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    void *p = mmap(address, length, prot, MAP_SHARED | MAP_FIXED, fd, offset);
    return p == MAP_FAILED ? NULL : p;
}

int shim_eventfd(unsigned int initial, int nonblocking) {
    return eventfd(initial, EFD_CLOEXEC | (nonblocking ? EFD_NONBLOCK : 0));
}

int shim_eventfd_read(int fd, uint64_t *value) {
    ssize_t n = read(fd, value, sizeof *value);
    if (n == (ssize_t)sizeof *value) return 1;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (n >= 0) errno = EIO;
    return -1;
}

int shim_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t n = write(fd, &one, sizeof one);
    return n == (ssize_t)sizeof one ? 0 : -1;
}

int shim_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int shim_epoll_add(int epfd, int target, uint64_t tag) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, target, &ev);
}

int shim_epoll_modify(int epfd, int target, uint64_t tag, int want_read, int want_write) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = (want_read ? EPOLLIN : 0) | (want_write ? EPOLLOUT : 0);
    ev.data.u64 = tag;
    return epoll_ctl(epfd, EPOLL_CTL_MOD, target, &ev);
}

int shim_epoll_remove(int epfd, int target) { return epoll_ctl(epfd, EPOLL_CTL_DEL, target, NULL); }

int shim_epoll_wait(int epfd, uint64_t *tags, int max_tags, int timeout_ms) {
    struct epoll_event events[64];
    if (max_tags > 64) max_tags = 64;
    int n = epoll_wait(epfd, events, max_tags, timeout_ms);
    for (int i = 0; i < n; i++) tags[i] = events[i].data.u64;
    return n;
}

int shim_poll_in(int fd, int timeout_ms) {
    struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
    int n = poll(&p, 1, timeout_ms);
    return n;
}

int shim_numa_available(void) { return numa_available() >= 0; }
int shim_numa_max_node(void) { return numa_max_node(); }
void shim_numa_bind_memory(void *address, size_t length, int node) {
    if (numa_available() >= 0 && node >= 0 && node <= numa_max_node()) numa_tonode_memory(address, length, node);
}

int shim_memlock_limit(uint64_t *soft, uint64_t *hard) {
    struct rlimit r;
    if (getrlimit(RLIMIT_MEMLOCK, &r) != 0) return -1;
    *soft = r.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)r.rlim_cur;
    *hard = r.rlim_max == RLIM_INFINITY ? UINT64_MAX : (uint64_t)r.rlim_max;
    return 0;
}
