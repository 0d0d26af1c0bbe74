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

import Synchronization

/// The one DMA allocator of a backend's IOVA space, created on first use and shared by every
/// device of the backend, so that two devices never get the same IOVA. Held weakly: the
/// allocator holds the backend (its mapper), and lives as long as a device or buffer needs it.
final class DMAAllocatorSlot: Sendable {
    private struct Weak { weak var allocator: DMAAllocator? }
    private let slot = Mutex(Weak())

    /// The live allocator, if any.
    var current: DMAAllocator? { slot.withLock { $0.allocator } }

    /// The live allocator, or a new one from `make`, called outside the lock (DMAAllocator's
    /// init asks the backend for its IOVA ranges, which may take the backend's own lock).
    func allocator(_ make: () -> DMAAllocator) -> DMAAllocator {
        if let existing = current { return existing }
        let created = make()
        return slot.withLock { s in
            if let existing = s.allocator { return existing }
            s.allocator = created
            return created
        }
    }
}
