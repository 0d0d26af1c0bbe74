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

/// The blocks of one namespace, addressed in bytes. Only the controller's engine calls it, under
/// the engine's lock, so it needs no locking of its own.
///
/// Unwritten and deallocated ranges read as zeroes, which is what Identify Namespace DLFEAT 001b
/// promises the host (NVMe base 1.4, 5.15.2.2, and 6.7.1.1 for Dataset Management).
enum NamespaceStorage {
    case memory(SparseMemoryStorage)
    case file(SparseFileStorage)

    init(_ namespace: EmulatedNamespace) throws(EmulatorError) {
        let bytes = namespace.capacityInBlocks * UInt64(namespace.blockSize)
        switch namespace.backing {
        case .memory: self = .memory(SparseMemoryStorage(size: bytes))
        case .sparseFile(let path, let readOnly): self = .file(try SparseFileStorage(path: path, size: bytes, readOnly: readOnly))
        }
    }

    /// The metadata of `namespace` (`metadataSize` bytes per block), or nil if it has none: in
    /// memory, or in `<path>.metadata` beside a backing file, so it outlives the process with the data.
    init?(metadataOf namespace: EmulatedNamespace) throws(EmulatorError) {
        guard namespace.metadataSize > 0 else { return nil }
        let bytes = namespace.capacityInBlocks * UInt64(namespace.metadataSize)
        switch namespace.backing {
        case .memory: self = .memory(SparseMemoryStorage(size: bytes))
        case .sparseFile(let path, let readOnly):
            self = .file(try SparseFileStorage(path: path + ".metadata", size: bytes, readOnly: readOnly))
        }
    }

    /// Reads `buffer.count` bytes at `offset` into host memory. False on an I/O error.
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        switch self {
        case .memory(let s): s.read(at: offset, into: buffer); return true
        case .file(let s): return s.read(at: offset, into: buffer)
        }
    }

    func write(at offset: UInt64, from buffer: UnsafeRawBufferPointer) -> Bool {
        switch self {
        case .memory(let s): s.write(at: offset, from: buffer); return true
        case .file(let s): return s.write(at: offset, from: buffer)
        }
    }

    /// Makes `[offset, offset+length)` read as zeroes, giving the space back where it can.
    func zero(at offset: UInt64, length: UInt64) -> Bool {
        switch self {
        case .memory(let s): s.zero(at: offset, length: length); return true
        case .file(let s): return s.zero(at: offset, length: length)
        }
    }

    /// True if the media equals `buffer` at `offset`; nil on an I/O error.
    func compare(at offset: UInt64, with buffer: UnsafeRawBufferPointer) -> Bool? {
        switch self {
        case .memory(let s): return s.compare(at: offset, with: buffer)
        case .file(let s): return s.compare(at: offset, with: buffer)
        }
    }

    func flush() -> Bool {
        switch self {
        case .memory: return true
        case .file(let s): return s.flush()
        }
    }

    /// Bytes of backing actually in use: chunks allocated, or blocks the file system allocated.
    var allocatedBytes: UInt64 {
        switch self {
        case .memory(let s): return s.allocatedBytes
        case .file(let s): return s.allocatedBytes
        }
    }
}

/// Namespace memory in 64 KiB chunks, allocated on first write and freed when a deallocate or
/// write-zeroes covers them whole, so a 1 TiB namespace written sparsely costs what was written.
final class SparseMemoryStorage {
    static let chunkSize = 64 * 1024
    let size: UInt64
    private var chunks: [UInt64: UnsafeMutableRawPointer] = [:]

    init(size: UInt64) { self.size = size }

    deinit {
        for (_, chunk) in chunks { chunk.deallocate() }
    }

    var allocatedBytes: UInt64 { UInt64(chunks.count) * UInt64(Self.chunkSize) }

    /// Calls `body(chunkIndex, offsetInChunk, bufferOffset, length)` for each chunk piece.
    private func forEachPiece(_ offset: UInt64, _ length: Int, _ body: (UInt64, Int, Int, Int) -> Void) {
        var done = 0
        let chunk = UInt64(Self.chunkSize)
        while done < length {
            let position = offset + UInt64(done)
            let index = position / chunk
            let inChunk = Int(position % chunk)
            let n = min(length - done, Self.chunkSize - inChunk)
            body(index, inChunk, done, n)
            done += n
        }
    }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress else { return }
        forEachPiece(offset, buffer.count) { index, inChunk, at, n in
            if let chunk = chunks[index] {
                (base + at).copyMemory(from: chunk + inChunk, byteCount: n)
            } else {
                (base + at).initializeMemory(as: UInt8.self, repeating: 0, count: n)
            }
        }
    }

    func write(at offset: UInt64, from buffer: UnsafeRawBufferPointer) {
        guard let base = buffer.baseAddress else { return }
        forEachPiece(offset, buffer.count) { index, inChunk, at, n in
            let chunk: UnsafeMutableRawPointer
            if let existing = chunks[index] {
                chunk = existing
            } else {
                chunk = UnsafeMutableRawPointer.allocate(byteCount: Self.chunkSize, alignment: 4096)
                chunk.initializeMemory(as: UInt8.self, repeating: 0, count: Self.chunkSize)
                chunks[index] = chunk
            }
            (chunk + inChunk).copyMemory(from: base + at, byteCount: n)
        }
    }

    func zero(at offset: UInt64, length: UInt64) {
        var done: UInt64 = 0
        let chunk = UInt64(Self.chunkSize)
        while done < length {
            let position = offset + done
            let index = position / chunk
            let inChunk = Int(position % chunk)
            let n = Int(min(length - done, chunk - UInt64(inChunk)))
            if let memory = chunks[index] {
                if n == Self.chunkSize {
                    memory.deallocate()
                    chunks[index] = nil
                } else {
                    (memory + inChunk).initializeMemory(as: UInt8.self, repeating: 0, count: n)
                }
            }
            done += UInt64(n)
        }
    }

    func compare(at offset: UInt64, with buffer: UnsafeRawBufferPointer) -> Bool {
        guard let base = buffer.baseAddress else { return true }
        var equal = true
        forEachPiece(offset, buffer.count) { index, inChunk, at, n in
            guard equal else { return }
            if let chunk = chunks[index] {
                equal = memcmp(chunk + inChunk, base + at, n) == 0
            } else {
                let bytes = UnsafeRawBufferPointer(start: base + at, count: n)
                equal = !bytes.contains { $0 != 0 }
            }
        }
        return equal
    }
}

/// Namespace blocks in a sparse file: holes read as zeroes and deallocation punches holes.
///
/// The file is the namespace's medium, so its size is never changed once it has one: a missing
/// or empty file is sized to the namespace, an existing one of another size is refused (resizing
/// it would cut off data or change the namespace under the data).
final class SparseFileStorage {
    let path: String
    let size: UInt64
    private let fd: Int32

    init(path: String, size: UInt64, readOnly: Bool = false) throws(EmulatorError) {
        guard size <= UInt64(Int64.max) else { throw .backingFileSize(path: path, bytes: 0, needed: size) }
        let fd = readOnly ? open(path, O_RDONLY | O_CLOEXEC) : open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .backingFile(path: path, operation: readOnly ? "open read-only" : "open", errno: errno) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw .backingFile(path: path, operation: "fstat", errno: e)
        }
        let existing = UInt64(max(0, st.st_size))
        if existing != size {
            guard existing == 0 && !readOnly else {
                close(fd)
                throw .backingFileSize(path: path, bytes: existing, needed: size)
            }
            guard ftruncate(fd, off_t(size)) == 0 else {
                let e = errno
                close(fd)
                throw .backingFile(path: path, operation: "ftruncate to \(size) bytes", errno: e)
            }
        }
        self.path = path
        self.size = size
        self.fd = fd
    }

    deinit { close(fd) }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }

    func write(at offset: UInt64, from buffer: UnsafeRawBufferPointer) -> Bool {
        var done = 0
        while done < buffer.count {
            let n = pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }

    /// FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE (linux/falloc.h); writes zeroes where the file
    /// system cannot punch holes.
    func zero(at offset: UInt64, length: UInt64) -> Bool {
        if linuxFallocate(fd, 0x02 | 0x01, off_t(offset), off_t(length)) == 0 { return true }
        let zeroes = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 4096)
        defer { zeroes.deallocate() }
        zeroes.initializeMemory(as: UInt8.self, repeating: 0)
        var done: UInt64 = 0
        while done < length {
            let n = Int(min(length - done, 65536))
            guard write(at: offset + done, from: UnsafeRawBufferPointer(rebasing: zeroes[0..<n])) else { return false }
            done += UInt64(n)
        }
        return true
    }

    func compare(at offset: UInt64, with buffer: UnsafeRawBufferPointer) -> Bool? {
        let media = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count, alignment: 16)
        defer { media.deallocate() }
        guard read(at: offset, into: media) else { return nil }
        return memcmp(media.baseAddress!, buffer.baseAddress!, buffer.count) == 0
    }

    func flush() -> Bool { fdatasync(fd) == 0 }

    var allocatedBytes: UInt64 {
        var s = stat()
        guard fstat(fd, &s) == 0 else { return 0 }
        return UInt64(s.st_blocks) * 512
    }
}

/// fallocate(2). Glibc declares it only under _GNU_SOURCE, which the Swift Glibc module does not
/// define, so it is bound by symbol name; the C signature is (int, int, off_t, off_t) -> int.
@_silgen_name("fallocate")
private func linuxFallocate(_ fd: Int32, _ mode: Int32, _ offset: off_t, _ length: off_t) -> Int32
