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

/// Reads a fuzzer's input as a stream of little-endian fields; past the end every read is 0, so a
/// harness never has to check lengths (libFuzzer finds the short inputs anyway).
public struct FuzzInput {
    let bytes: UnsafeRawBufferPointer
    public private(set) var offset = 0

    public init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        bytes = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    }

    public var isEmpty: Bool { offset >= bytes.count }
    public var remaining: Int { max(0, bytes.count - offset) }

    public mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func integer<T: FixedWidthInteger>(_: T.Type = T.self) -> T {
        var value: T = 0
        for i in 0..<(T.bitWidth / 8) { value |= T(truncatingIfNeeded: byte()) << (8 * i) }
        return value
    }

    /// The next `count` bytes (zero-padded past the end).
    public mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in byte() }
    }

    /// Everything left.
    public mutating func rest() -> [UInt8] { bytes(remaining) }
}

/// A failed invariant: a crash libFuzzer records with the input that caused it.
public func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, file: StaticString = #file, line: UInt = #line) {
    if !condition() { fatalError("invariant violated: \(message())", file: file, line: line) }
}

import Logging

/// The driver logs every rejected completion and failed command; at thousands of inputs a second
/// that is all the fuzzer would do. Call once at the start of each input (idempotent).
public func silenceLogging() {
    _ = loggingSilenced
}

private let loggingSilenced: Void = {
    LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
}()

import CFuzzer

/// Runs libFuzzer on `body` with the program's arguments (`-max_total_time=30 corpus/` ...).
public func runFuzzer(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ body: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, body)
}
