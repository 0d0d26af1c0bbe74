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

import VFIO

/// The controller's side of BAR0, which is plain memory (`EmulatedBAR`): the driver writes
/// registers and doorbells, the controller notices them by reading. Every access is a volatile one
/// through `MMIORegion`, because in threaded mode the driver writes the same words from another
/// thread; doorbells are read with acquire loads, pairing with the driver's release stores
/// (`Doorbell.ring`), so the SQEs and PRP lists a doorbell publishes are visible before they are
/// fetched.
struct BARMemory: Sendable {
    let region: MMIORegion

    func load32(_ offset: Int) -> UInt32 { region.load32(at: offset) }
    func load64(_ offset: Int) -> UInt64 { region.load64(at: offset) }
    func store32(_ value: UInt32, _ offset: Int) { region.store32(value, at: offset) }
    func store64(_ value: UInt64, _ offset: Int) { region.store64(value, at: offset) }
    /// A doorbell: acquire, pairing with `Doorbell.ring`'s release store.
    func loadDoorbell(_ offset: Int) -> UInt32 { region.doorbell(at: offset).peek() }
}
