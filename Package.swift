// swift-tools-version: 6.1
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

import PackageDescription

// Every target, top to bottom; → names what it builds on directly (leaving out what those bring
// along). The same picture is in README.md ("The layers"), and a test keeps the two equal. Data
// flows one way; drivers see devices only as `PCIFunction`.
//
// tools      vfioctl          the CLI: parsing and printing; the work is in the libraries
//            vfio-hil         driver checks inside the QEMU VM (scripts/hil-test.sh)
// workloads  NVMeWorkload     `nvme perf`: threads, queue depth, latency        → NVMe
//            NICWorkload      `net gen/recv/echo`, the software wire peer       → NIC, NICEmulator
//            DriverScenarios  NVMe driver scenarios for any PCIFunction         → NVMe
//            NVMeTCPTarget    NVMe/TCP target: PDUs, Connect, admin, I/O, TCP   → NVMe
// drivers    NVMe             bring-up, queue pairs, PRPs, poll/irq/hybrid      → NVMeSpec
//            NIC              Intel 82574L: rings, RSS, MSI-X                   → E1000ESpec
// emulators  NVMeEmulator     an NVMe controller in the process                 → NVMeSpec, PCIEmulation
//            NICEmulator      an 82574L in the process, with its wire           → E1000ESpec, PCIEmulation
//            PCIEmulation     config space, MSI-X, emulated IOMMU, run loop     → VFIO
// specs      NVMeSpec         NVMe encodings: commands, registers, structures   → VFIO
//            E1000ESpec       82574 registers and descriptors, MACAddress       → NetFrames, VFIO
//            NetFrames        Ethernet, ARP, IPv4, ICMP, UDP, checksum          (nothing)
// core       VFIO             PCIFunction, VFIODevice, MMIO, DMA, interrupts    → CShims
// host       VFIOHost         discovery, binding, host setup, in-use checks     → VFIO, CLibPCI
// C          CShims           ioctl numbers, volatile MMIO, barriers, eventfd, libnuma
//            CLibPCI          libpci, linked by VFIOHost only
let package = Package(
    name: "swift-vfio",
    products: [
        .library(name: "VFIO", targets: ["VFIO"]),
        .library(name: "VFIOHost", targets: ["VFIOHost"]),
        .library(name: "NVMeSpec", targets: ["NVMeSpec"]),
        .library(name: "NVMe", targets: ["NVMe"]),
        .library(name: "PCIEmulation", targets: ["PCIEmulation"]),
        .library(name: "NVMeEmulator", targets: ["NVMeEmulator"]),
        .library(name: "NICEmulator", targets: ["NICEmulator"]),
        .library(name: "E1000ESpec", targets: ["E1000ESpec"]),
        .library(name: "NIC", targets: ["NIC"]),
        .library(name: "NetFrames", targets: ["NetFrames"]),
        .library(name: "NVMeTCPTarget", targets: ["NVMeTCPTarget"]),
        .library(name: "NVMeWorkload", targets: ["NVMeWorkload"]),
        .executable(name: "vfioctl", targets: ["vfioctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
        // `swift package generate-documentation --target VFIO` (or NVMe): the DocC catalogs.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "CShims",
            path: "CShims",
            linkerSettings: [.linkedLibrary("numa")]
        ),
        .target(
            name: "CLibPCI",
            linkerSettings: [.linkedLibrary("pci")]
        ),
        .target(
            name: "VFIO",
            dependencies: ["CShims", .product(name: "Logging", package: "swift-log")]
        ),
        /// The NVMe base spec's encodings (commands, completions, status, registers, data
        /// structures), for the driver and the emulated controller alike.
        .target(name: "NVMeSpec", dependencies: ["VFIO"]),
        .target(
            name: "VFIOHost",
            dependencies: ["VFIO", "CShims", "CLibPCI"]
        ),
        .target(
            name: "NVMe",
            dependencies: ["NVMeSpec", "VFIO", .product(name: "Logging", package: "swift-log")]
        ),
        .target(name: "NetFrames"),
        /// The 82574's registers and descriptors (Intel 82574 datasheet) and how it holds a MAC
        /// address, for the driver and the emulated NIC alike.
        .target(name: "E1000ESpec", dependencies: ["VFIO", "NetFrames"]),
        .target(
            name: "NIC",
            dependencies: ["E1000ESpec", "VFIO", "NetFrames", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "PCIEmulation",
            dependencies: ["VFIO"]
        ),
        .target(
            name: "NVMeEmulator",
            dependencies: ["NVMeSpec", "PCIEmulation", "VFIO"]
        ),
        .target(
            name: "NICEmulator",
            dependencies: ["E1000ESpec", "NetFrames", "PCIEmulation", "VFIO"]
        ),
        /// NVMe/TCP target: serves namespaces driven by `NVMe` to standard initiators.
        .target(
            name: "NVMeTCPTarget",
            dependencies: ["NVMe", "VFIO", "CShims"]
        ),
        .target(
            name: "NVMeWorkload",
            dependencies: ["NVMe", "VFIO", .product(name: "Histogram", package: "hdrhistogram-swift")]
        ),
        .target(
            name: "NICWorkload",
            dependencies: ["NIC", "NICEmulator", "NetFrames", "VFIO"]
        ),
        .executableTarget(
            name: "vfioctl",
            dependencies: [
                "VFIO", "VFIOHost", "NVMe", "NVMeEmulator", "NVMeWorkload", "NIC", "NICEmulator", "NICWorkload", "NetFrames",
                "NVMeTCPTarget",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "DriverScenarios",
            dependencies: ["NVMe", "VFIO"]
        ),
        .executableTarget(
            name: "vfio-hil",
            dependencies: ["VFIO", "VFIOHost", "NVMe", "NIC", "NetFrames", "DriverScenarios", .product(name: "Logging", package: "swift-log")]
        ),
        .target(name: "VFIOTestSupport", dependencies: ["VFIO"], path: "Tests/VFIOTestSupport"),
        .testTarget(name: "VFIOTests", dependencies: ["VFIO", "CShims", "VFIOTestSupport"]),
        .testTarget(name: "VFIOHostTests", dependencies: ["VFIOHost", "VFIO", "VFIOTestSupport"]),
        .testTarget(name: "PCIEmulationTests", dependencies: ["PCIEmulation", "VFIO"]),
        .testTarget(name: "NVMeEmulatorTests", dependencies: ["NVMeEmulator", "NVMeSpec", "VFIO"]),
        .testTarget(name: "NICEmulatorTests", dependencies: ["NICEmulator", "E1000ESpec", "NetFrames", "VFIO"]),
        .testTarget(name: "VfioctlTests", dependencies: ["vfioctl", "VFIO", "VFIOHost", "NVMe", "NVMeWorkload", "NIC", "NICWorkload", "NICEmulator", "VFIOTestSupport"]),
        .testTarget(name: "NVMeSpecTests", dependencies: ["NVMeSpec", "VFIO"]),
        .testTarget(name: "E1000ESpecTests", dependencies: ["E1000ESpec", "NetFrames", "VFIO"]),
        .testTarget(name: "NVMeTests", dependencies: ["NVMe", "NVMeEmulator", "NIC", "NICEmulator", "VFIO", "VFIOTestSupport", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "NICTests", dependencies: ["NIC", "NICEmulator", "NetFrames", "VFIO", "VFIOTestSupport"]),
        .testTarget(name: "NetFramesTests", dependencies: ["NetFrames"]),
        .testTarget(name: "DriverScenarioTests", dependencies: ["DriverScenarios", "NVMe", "NVMeEmulator", "VFIO"]),
        .testTarget(name: "NICWorkloadTests", dependencies: ["NICWorkload", "NIC", "NICEmulator", "NetFrames", "VFIO"]),
        .testTarget(name: "NVMeTCPTargetTests", dependencies: ["NVMeTCPTarget", "NVMe", "NVMeEmulator", "VFIO", "CShims"]),
    ],
    swiftLanguageModes: [.v6]
)
