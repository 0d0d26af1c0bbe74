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

/// Why an emulated controller could not be created.
public enum EmulatorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The configuration is inconsistent; each string names one problem.
    case invalidConfiguration([String])
    /// A namespace's backing file could not be set up.
    case backingFile(path: String, operation: String, errno: Int32)
    /// An existing backing file's size differs from the namespace's: an image is never resized.
    case backingFileSize(path: String, bytes: UInt64, needed: UInt64)
    /// Memory for BAR0 could not be mapped.
    case barAllocation(bytes: Int, errno: Int32)
    /// The controller thread could not be started.
    case threadStart(errno: Int32)

    public var description: String {
        switch self {
        case .invalidConfiguration(let problems):
            return "invalid emulated NVMe configuration: \(problems.joined(separator: "; "))"
        case .backingFile(let path, let operation, let errno):
            return "namespace backing file \(path): \(operation) failed: \(VFIOError.errnoText(errno)) (errno \(errno)); choose a writable path on a file system with sparse files"
        case .backingFileSize(let path, let bytes, let needed):
            return "namespace backing file \(path) is \(bytes) bytes but the namespace needs \(needed); an existing image keeps its size: size the namespace to match it or use another file"
        case .barAllocation(let bytes, let errno):
            return "could not map \(bytes) bytes for the emulated BAR0: \(VFIOError.errnoText(errno)); lower the queue or vector count"
        case .threadStart(let errno):
            return "could not start the emulated controller thread: \(VFIOError.errnoText(errno)); use .stepped mode or raise the thread limit"
        }
    }
}
