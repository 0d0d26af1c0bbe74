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

import Logging

extension Logger {
    /// The libraries' default logger, which discards everything: a library is quiet unless its
    /// caller says otherwise. Pass your own in `VFIODevice.Options.logger`,
    /// `ControllerOptions.logger` or `NICOptions.logger` (swift-log's default handler, used when
    /// the process never bootstraps logging, would print `info` lines to stderr).
    public static func quiet(label: String) -> Logger {
        Logger(label: label, factory: { _ in SwiftLogNoOpLogHandler() })
    }
}
