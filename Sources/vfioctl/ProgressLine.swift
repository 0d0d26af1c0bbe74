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

/// The progress line of a long run (`nvme perf`, `net gen|recv|echo` in text mode): drawn on
/// stderr and redrawn in place each second with `\r`, then erased before the figures or an error
/// are printed, so that they start on a line of their own. A run too short to draw one leaves
/// stderr untouched.
final class ProgressLine {
    /// The widest line drawn so far: a shorter redraw and the erase cover all of it.
    private var drawn = 0

    func draw(_ line: String) {
        printProgress("\r" + line.padded(drawn))
        drawn = max(drawn, line.count)
    }

    /// Erases the line if one was drawn; a second call does nothing.
    func erase() {
        if drawn > 0 { printProgress("\r" + String(repeating: " ", count: drawn) + "\r") }
        drawn = 0
    }
}
