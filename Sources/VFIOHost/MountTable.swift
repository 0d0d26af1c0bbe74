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

/// One mounted filesystem, from a mount table.
struct Mount: Sendable, Equatable {
    /// `MAJ:MIN` of the filesystem's device (mountinfo only); it also resolves `/dev/root`.
    var majorMinor: String?
    var source: String
    var mountPoint: String
    var fsType: String
    /// Set for a mount seen in another mount namespace: a process in it, and its command.
    var namespacePID: Int?
    var command: String?
}

/// The mount tables and swap areas of the host: this process's mount namespace, and every other
/// namespace whose `/proc/<pid>/mountinfo` we may read (containers mount disks the host's
/// `/proc/self/mountinfo` does not show). `procRoot` is a parameter so tests can build a fake tree.
struct MountTable {
    let procRoot: String

    /// Every mount of this namespace, then those of other namespaces (one process each).
    func mounts(processes: ProcessTable) -> [Mount] {
        var result = ownMounts()
        let own = Sysfs.readLink("\(procRoot)/self/ns/mnt")
        var seen: Set<String> = own.map { [$0] } ?? []
        for pid in processes.pids {
            guard let namespace = Sysfs.readLink("\(procRoot)/\(pid)/ns/mnt"), !seen.contains(namespace),
                  let text = Sysfs.readText("\(procRoot)/\(pid)/mountinfo")
            else { continue }
            seen.insert(namespace)
            let command = processes.command(of: pid)
            for var mount in Self.parseMountinfo(text) where !result.contains(where: { $0.sameFilesystem(as: mount) }) {
                mount.namespacePID = pid
                mount.command = command
                result.append(mount)
            }
        }
        return result
    }

    /// `/proc/self/mountinfo`, or `/proc/mounts` when mountinfo is missing.
    func ownMounts() -> [Mount] {
        if let text = Sysfs.readText("\(procRoot)/self/mountinfo") { return Self.parseMountinfo(text) }
        let text = Sysfs.readText("\(procRoot)/mounts") ?? ""
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count >= 3 else { return nil }
            return Mount(majorMinor: nil, source: Self.unescape(fields[0]), mountPoint: Self.unescape(fields[1]), fsType: fields[2])
        }
    }

    /// `id parent major:minor root mountpoint options [optional...] - fstype source superoptions`.
    static func parseMountinfo(_ text: String) -> [Mount] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard fields.count >= 10, let dash = fields.firstIndex(of: "-"), dash >= 6, dash + 2 < fields.count
            else { return nil }
            return Mount(majorMinor: fields[2], source: unescape(fields[dash + 2]),
                         mountPoint: unescape(fields[4]), fsType: fields[dash + 1])
        }
    }

    /// Sources of active swap areas (`/proc/swaps`, after its header line).
    func swaps() -> [String] {
        let text = Sysfs.readText("\(procRoot)/swaps") ?? ""
        return text.split(separator: "\n").dropFirst().compactMap { line in
            line.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map { Self.unescape(String($0)) }
        }
    }

    /// Mount tables escape space, tab, newline and backslash as `\ooo`.
    static func unescape(_ text: String) -> String {
        guard text.contains("\\") else { return text }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
               let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Mount {
    func sameFilesystem(as other: Mount) -> Bool {
        majorMinor == other.majorMinor && source == other.source && mountPoint == other.mountPoint
    }
}
