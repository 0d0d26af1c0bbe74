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

import ArgumentParser
import VFIO

/// `--mode` and `--spin`: how a driver thread waits for its queue, the same options for `nvme perf`
/// and every `net` subcommand, as the drivers share the one wait loop (`WaitLoop`).
struct CompletionModeOptions: ParsableArguments {
    @Option(help: "Completion mode: poll, interrupt, hybrid.")
    var mode: String = "poll"

    @Option(help: ArgumentHelp(
        "Poll mode: empty checks of a wait spun without the CPU's pause hint before every later one pauses (default \(SpinPolicy.default.spinsBeforePause)); pause: on every one; never: no pause.",
        valueName: "n|pause|never"))
    var spin: String?

    func completionMode() throws -> CompletionMode { try parseMode(mode, spin: spin) }
}

/// `--mode`, and `--spin` when given (poll mode only: hybrid mode's polling phase pauses on every
/// empty check, its budget is counted in pauses).
func parseMode(_ text: String, spin: String? = nil) throws -> CompletionMode {
    let mode: CompletionMode
    switch text {
    case "poll": mode = .poll
    case "interrupt": mode = .interrupt
    case "hybrid": mode = .hybrid
    default: throw ValidationFailure("--mode '\(text)' is not a completion mode; use poll, interrupt or hybrid")
    }
    guard let spin else { return mode }
    guard mode.kind == .poll else {
        throw ValidationFailure("--spin applies to poll mode only (--mode \(text) sleeps on the interrupt); drop --spin or use --mode poll")
    }
    return .poll(spin: try parseSpinPolicy(spin))
}

/// `--spin`: a count of free spins, `pause` (`SpinPolicy.alwaysPause`) or `never` (`.neverPause`).
func parseSpinPolicy(_ text: String) throws -> SpinPolicy {
    switch text {
    case "pause": return .alwaysPause
    case "never": return .neverPause
    default:
        // UInt32.max is `never`'s value: a count that large is refused rather than silently
        // turned into "never pause".
        guard let n = UInt32(text), n < .max else {
            throw ValidationFailure(
                "--spin '\(text)' is not a spin policy; give the empty checks to spin without pausing (0...\(UInt32.max - 1), default \(SpinPolicy.default.spinsBeforePause)), pause or never")
        }
        return SpinPolicy(spinsBeforePause: n)
    }
}
