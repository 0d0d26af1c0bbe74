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

import PCIEmulation
import VFIO

/// The engine behind its lock and the BAR memory it works on: what the controller thread shares
/// with the controller object. The BAR is unmapped when the last of the two lets go, so the
/// thread can never touch freed register memory.
final class ControllerCore: LockedEngineWorker {
    let engine: TSanVisibleMutex<ControllerEngine>
    let bar: EmulatedBAR
    /// BAR2, the Controller Memory Buffer, when configured (owned here like BAR0).
    let controllerMemory: EmulatedBAR?

    init(engine: consuming sending ControllerEngine, bar: EmulatedBAR, controllerMemory: EmulatedBAR? = nil) {
        self.engine = TSanVisibleMutex(engine)
        self.bar = bar
        self.controllerMemory = controllerMemory
    }

    var controllerMemoryRegion: MMIORegion? { controllerMemory?.region }

    /// One step: register changes, doorbells, due completions, interrupts.
    func serviceOnce() -> DeviceWork { withEngine { $0.step() } }
}
