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
#include <pci/pci.h>
#include <numa.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>

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

/// libpci's default error handler calls exit(); ours jumps back so the caller gets -1 instead.
static __thread jmp_buf shim_pci_jump;
static __attribute__((noreturn)) void shim_pci_error(char *msg, ...) {
    (void)msg;
    longjmp(shim_pci_jump, 1);
}
static void shim_pci_quiet(char *msg, ...) { (void)msg; }

int shim_pci_scan(shim_pci_function *out, int capacity) {
    struct pci_access *pacc = pci_alloc();
    if (!pacc) return -1;
    pacc->error = shim_pci_error;
    pacc->warning = shim_pci_quiet;
    pacc->method = PCI_ACCESS_SYS_BUS_PCI;
    if (setjmp(shim_pci_jump) != 0) {
        pci_cleanup(pacc);
        return -1;
    }
    pci_init(pacc);
    pci_scan_bus(pacc);
    int count = 0;
    for (struct pci_dev *d = pacc->devices; d; d = d->next) {
        pci_fill_info(d, PCI_FILL_IDENT | PCI_FILL_CLASS | PCI_FILL_BASES | PCI_FILL_SIZES | PCI_FILL_NUMA_NODE);
        if (count < capacity) {
            shim_pci_function *f = &out[count];
            memset(f, 0, sizeof *f);
            f->domain = (uint16_t)d->domain;
            f->bus = d->bus;
            f->device = d->dev;
            f->function = d->func;
            f->vendor_id = d->vendor_id;
            f->device_id = d->device_id;
            f->class_code = ((uint32_t)d->device_class << 8) | (uint32_t)pci_read_byte(d, PCI_CLASS_PROG);
            f->numa_node = d->numa_node;
            for (int i = 0; i < 6; i++) {
                f->bar_size[i] = (uint64_t)d->size[i];
                f->bar_flags[i] = (uint64_t)(d->base_addr[i] & PCI_ADDR_FLAG_MASK);
            }
        }
        count++;
    }
    pci_cleanup(pacc);
    return count;
}

void shim_pci_lookup_names(uint16_t vendor_id, uint16_t device_id,
                           char *vendor_name, size_t vendor_len,
                           char *device_name, size_t device_len) {
    if (vendor_len) vendor_name[0] = 0;
    if (device_len) device_name[0] = 0;
    struct pci_access *pacc = pci_alloc();
    if (!pacc) return;
    pacc->error = shim_pci_error;
    pacc->warning = shim_pci_quiet;
    pacc->method = PCI_ACCESS_SYS_BUS_PCI;
    if (setjmp(shim_pci_jump) != 0) {
        pci_cleanup(pacc);
        return;
    }
    pci_init(pacc);
    char buf[256];
    char *v = pci_lookup_name(pacc, buf, sizeof buf, PCI_LOOKUP_VENDOR | PCI_LOOKUP_NO_NUMBERS, vendor_id);
    if (v && vendor_len) { strncpy(vendor_name, v, vendor_len - 1); vendor_name[vendor_len - 1] = 0; }
    char *n = pci_lookup_name(pacc, buf, sizeof buf, PCI_LOOKUP_DEVICE | PCI_LOOKUP_NO_NUMBERS, vendor_id, device_id);
    if (n && device_len) { strncpy(device_name, n, device_len - 1); device_name[device_len - 1] = 0; }
    pci_cleanup(pacc);
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
