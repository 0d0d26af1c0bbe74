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
import Synchronization

/// A logger that records what the driver logs, for the tests that expect log lines: they pass
/// `capture.logger` in `ControllerOptions` and assert on the lines, and nothing reaches the test
/// output (the library's own default is quiet).
final class LogCapture: Sendable {
    struct Line: Sendable {
        let level: Logger.Level
        let message: String
    }

    private let lines = Mutex<[Line]>([])

    var logger: Logger {
        var logger = Logger(label: "swift-vfio.test") { _ in Handler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    var all: [Line] { lines.withLock { $0 } }

    /// True if a line at `level` contains `text`.
    func contains(_ level: Logger.Level, _ text: String) -> Bool {
        all.contains { $0.level == level && $0.message.contains(text) }
    }

    fileprivate func record(_ line: Line) { lines.withLock { $0.append(line) } }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            capture.record(Line(level: event.level, message: event.message.description))
        }
    }
}
