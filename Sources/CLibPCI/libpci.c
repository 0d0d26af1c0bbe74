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

#include "CLibPCI.h"

#include <pci/pci.h>
#include <setjmp.h>
#include <string.h>

/// libpci's default error handler calls exit(); ours jumps back so the caller gets -1 instead.
static __thread jmp_buf clibpci_jump;
static __attribute__((noreturn)) void clibpci_error(char *msg, ...) {
    (void)msg;
    longjmp(clibpci_jump, 1);
}
static void clibpci_quiet(char *msg, ...) { (void)msg; }

static struct pci_access *clibpci_access(void) {
    struct pci_access *pacc = pci_alloc();
    if (!pacc) return NULL;
    pacc->error = clibpci_error;
    pacc->warning = clibpci_quiet;
    pacc->method = PCI_ACCESS_SYS_BUS_PCI;
    return pacc;
}

int clibpci_scan(clibpci_function *out, int capacity) {
    struct pci_access *pacc = clibpci_access();
    if (!pacc) return -1;
    if (setjmp(clibpci_jump) != 0) {
        pci_cleanup(pacc);
        return -1;
    }
    pci_init(pacc);
    pci_scan_bus(pacc);
    int count = 0;
    for (struct pci_dev *d = pacc->devices; d; d = d->next) {
        pci_fill_info(d, PCI_FILL_IDENT | PCI_FILL_CLASS | PCI_FILL_BASES | PCI_FILL_SIZES | PCI_FILL_NUMA_NODE);
        if (count < capacity) {
            clibpci_function *f = &out[count];
            memset(f, 0, sizeof *f);
            f->domain = (uint16_t)d->domain;
            f->bus = d->bus;
            f->device = d->dev;
            f->function = d->func;
            f->header_type = pci_read_byte(d, PCI_HEADER_TYPE) & 0x7f;
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

void clibpci_lookup_names(uint16_t vendor_id, uint16_t device_id,
                          char *vendor_name, size_t vendor_len,
                          char *device_name, size_t device_len) {
    if (vendor_len) vendor_name[0] = 0;
    if (device_len) device_name[0] = 0;
    struct pci_access *pacc = clibpci_access();
    if (!pacc) return;
    if (setjmp(clibpci_jump) != 0) {
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
