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

import Foundation
import Testing

/// README.md is the user's page (issue 15): what it is, the two commands, binding, writing a
/// driver, the CLI, the comparison and a performance summary. Detail goes to docs/, so the page
/// stays short enough to read.
@Suite struct ReadmeLengthTests {
    static let limit = 300

    @Test func theReadmeIsAtMostThreeHundredLines() throws {
        let readme = try String(contentsOfFile: ReadmeSwiftVersionTests.root + "/README.md", encoding: .utf8)
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false).count - (readme.hasSuffix("\n") ? 1 : 0)
        #expect(lines <= Self.limit, "README.md has \(lines) lines; at most \(Self.limit): move detail to docs/")
    }

    /// Every page the README links to under docs/ exists.
    @Test func theDocsTheReadmeLinksToExist() throws {
        let readme = try String(contentsOfFile: ReadmeSwiftVersionTests.root + "/README.md", encoding: .utf8)
        let targets = readme.matches(of: /\]\((docs\/[A-Za-z0-9_.-]+\.md)/).map { String($0.output.1) }
        #expect(!targets.isEmpty)
        for target in Set(targets) {
            #expect(FileManager.default.fileExists(atPath: ReadmeSwiftVersionTests.root + "/" + target), "README.md links to \(target), which is missing")
        }
    }
}
