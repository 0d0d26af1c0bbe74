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

#if canImport(Glibc)
import Glibc
#endif
import VFIO

/// The processes under `/proc` and what they hold open, as far as we may look (root sees all;
/// another user, only its own processes). Read once per in-use check.
struct ProcessTable {
    let procRoot: String
    /// Numeric entries of `procRoot`, without this process when it is the live `/proc`.
    let pids: [Int]

    init(procRoot: String) {
        self.procRoot = procRoot
        let me = procRoot == "/proc" ? Int(getpid()) : -1
        pids = Sysfs.listDirectory(procRoot).compactMap { Int($0) }.filter { $0 != me }.sorted()
    }

    /// `comm`: the command name, nil when unreadable.
    func command(of pid: Int) -> String? {
        Sysfs.readText("\(procRoot)/\(pid)/comm").flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Processes with one of `names` open as `/dev/<name>`: (name, pid), in pid order. The
    /// kernel shows an open device as its canonical node path, whatever path opened it.
    func openers(of names: Set<String>) -> [(device: String, pid: Int)] {
        var found: [(String, Int)] = []
        for pid in pids {
            let directory = "\(procRoot)/\(pid)/fd"
            var seen: Set<String> = []
            for fd in Sysfs.listDirectory(directory) {
                guard let target = Sysfs.readLink("\(directory)/\(fd)"), target.hasPrefix("/dev/") else { continue }
                let name = String(target.dropFirst("/dev/".count))
                if names.contains(name), !seen.contains(name) {
                    seen.insert(name)
                    found.append((name, pid))
                }
            }
        }
        return found
    }
}
