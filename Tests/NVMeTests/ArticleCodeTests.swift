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

import Testing
import VFIO

/// The DocC articles and the README show code, and code in prose rots unseen. Each has a test
/// file that compiles and runs its code; this checks that every ```swift block of the article appears there,
/// line for line (indentation and blank lines aside), so an article cannot drift from the API.
@Suite struct ArticleCodeTests {
    static let root: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)     // Tests/NVMeTests/ArticleCodeTests.swift
        return parts.joined(separator: "/")
    }()

    /// Lines trimmed of surrounding whitespace, blank ones dropped.
    static func normalized<S: Sequence>(_ lines: S) -> [Substring] where S.Element == Substring {
        lines.map { $0.drop(while: \.isWhitespace) }.map { line in
            var line = line
            while line.last?.isWhitespace == true { line.removeLast() }
            return line
        }.filter { !$0.isEmpty }
    }

    /// The ```swift blocks of a Markdown file, each as normalized lines.
    static func swiftBlocks(_ markdown: String) -> [[Substring]] {
        var blocks: [[Substring]] = []
        var current: [Substring]?
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.drop(while: \.isWhitespace)
            if current == nil, trimmed.hasPrefix("```swift") {
                current = []
            } else if current != nil, trimmed.hasPrefix("```") {
                blocks.append(normalized(current!))
                current = nil
            } else if current != nil {
                current!.append(line)
            }
        }
        return blocks
    }

    static func contains(_ haystack: [Substring], _ needle: [Substring]) -> Bool {
        guard !needle.isEmpty, needle.count <= haystack.count else { return needle.isEmpty }
        return (0...(haystack.count - needle.count)).contains { start in
            haystack[start..<(start + needle.count)].elementsEqual(needle)
        }
    }

    @Test(arguments: [
        ("Sources/VFIO/VFIO.docc/WritingADriver.md", "Tests/NVMeTests/WritingADriverArticleTests.swift"),
        ("Sources/NVMe/NVMe.docc/ProtocolWalkthrough.md", "Tests/NVMeTests/ProtocolWalkthroughArticleTests.swift"),
        ("Sources/NVMe/NVMe.docc/NVMe.md", "Tests/NVMeTests/ProtocolWalkthroughArticleTests.swift"),
        ("README.md", "Tests/NVMeTests/ProtocolWalkthroughArticleTests.swift"),
    ])
    func articleCodeIsCompiledByItsTests(article: String, tests: String) throws {
        let markdown = try #require(Sysfs.readText("\(Self.root)/\(article)"), "cannot read \(article)")
        let source = try #require(Sysfs.readText("\(Self.root)/\(tests)"), "cannot read \(tests)")
        let blocks = Self.swiftBlocks(markdown)
        #expect(!blocks.isEmpty, "\(article) shows no Swift code")
        let lines = Self.normalized(source.split(separator: "\n", omittingEmptySubsequences: false))
        for block in blocks {
            #expect(Self.contains(lines, block), "\(article): this block is not in \(tests):\n\(block.joined(separator: "\n"))")
        }
    }

    @Test func aBlockMissingFromTheSourceIsFound() {
        let blocks = Self.swiftBlocks("text\n```swift\nlet a = 1\n   let b = 2\n```\n")
        #expect(blocks == [["let a = 1", "let b = 2"]])
        #expect(Self.contains(Self.normalized(["x", "  let a = 1", "", "let b = 2  "]), blocks[0]))
        #expect(!Self.contains(Self.normalized(["let a = 1", "let c = 3", "let b = 2"]), blocks[0]))
    }
}

/// The layer picture in README.md and in the Package.swift header is the map a reader starts
/// from: it must name every target under Sources, and the two copies must be the same picture.
@Suite struct LayerPictureTests {
    /// The picture's lines: README's code block that starts with "tools", Package.swift's `// ` lines
    /// from "// tools" to the first line that is not a comment.
    static func picture(readme: String) -> [Substring] {
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("tools ") }) else { return [] }
        return Array(lines[start...].prefix { !$0.hasPrefix("```") })
    }

    static func picture(package: String) -> [Substring] {
        let lines = package.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("// tools ") }) else { return [] }
        return lines[start...].prefix { $0.hasPrefix("//") }.map { $0.dropFirst(3) }
    }

    @Test func layerPictureNamesEveryTargetInBothPlaces() throws {
        let root = ArticleCodeTests.root
        let readme = Self.picture(readme: try #require(Sysfs.readText("\(root)/README.md")))
        let package = Self.picture(package: try #require(Sysfs.readText("\(root)/Package.swift")))
        #expect(!readme.isEmpty)
        #expect(readme == package, "README.md and Package.swift show different layer pictures")
        let named = Set(readme.flatMap { $0.split(separator: " ").map(String.init) })
        var targets = Sysfs.listDirectory("\(root)/Sources")
        targets.append("CShims")    // a C target outside Sources
        #expect(targets.count > 10)
        for target in targets {
            #expect(named.contains(target), "the layer picture does not show \(target)")
        }
    }
}
