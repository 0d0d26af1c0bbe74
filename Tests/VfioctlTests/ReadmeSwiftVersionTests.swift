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

/// The README tells a new user which Swift to install; Package.swift's swift-tools-version is what
/// SwiftPM actually requires. They said different things ("Swift 6" against 6.1), so an older
/// toolchain failed on the first command.
@Suite struct ReadmeSwiftVersionTests {
    static let root: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)     // Tests/VfioctlTests/ReadmeSwiftVersionTests.swift
        return parts.joined(separator: "/")
    }()

    /// `6.1` from the manifest's first line, `// swift-tools-version: 6.1`.
    static func toolsVersion(_ manifest: String) -> String? {
        guard let first = manifest.split(separator: "\n", maxSplits: 1).first,
              let match = first.firstMatch(of: /^\/\/ ?swift-tools-version: ?([0-9]+(\.[0-9]+)+)/) else { return nil }
        return String(match.output.1)
    }

    /// Every dotted version the text gives Swift ("Swift 6.1", "Swift 6.1.2"). A bare "Swift 6"
    /// is the language mode (the comparison table's "Swift 6, strict concurrency"), not a toolchain.
    static func statedVersions(_ readme: String) -> [String] {
        readme.matches(of: /Swift ([0-9]+(\.[0-9]+)+)/).map { String($0.output.1) }
    }

    @Test func theReadmeAsksForTheManifestsSwiftToolsVersionOrLater() throws {
        let manifest = try String(contentsOfFile: Self.root + "/Package.swift", encoding: .utf8)
        let readme = try String(contentsOfFile: Self.root + "/README.md", encoding: .utf8)
        let tools = try #require(Self.toolsVersion(manifest), "no swift-tools-version on Package.swift's first line")
        let asksForIt = readme.contains("Swift \(tools) or later")
        #expect(asksForIt, "README.md does not say 'Swift \(tools) or later' (Package.swift: swift-tools-version \(tools))")
        for stated in Self.statedVersions(readme) {
            #expect(stated == tools, "README.md names Swift \(stated), Package.swift declares swift-tools-version \(tools)")
        }
    }

    /// The check above would pass vacuously if its parsing found nothing: pin it on known text.
    @Test func theVersionParsingFindsWhatADivergenceLooksLike() {
        #expect(Self.toolsVersion("// swift-tools-version: 6.1\nimport PackageDescription") == "6.1")
        #expect(Self.toolsVersion("// swift-tools-version:5.9.2\n") == "5.9.2")
        #expect(Self.toolsVersion("import PackageDescription\n") == nil)
        #expect(Self.statedVersions("with Swift 6.2 or later; Swift 6, strict concurrency; Swift 5.10") == ["6.2", "5.10"])
    }
}
