import NVMe
import NVMeEmulator
import Testing
import VFIO

@Suite struct BringUpTests {
    @Test func enableHandshakeSetsReady() throws {
        let host = try TestHost()
        #expect(!host.status.ready)
        #expect(host.capabilities.maxQueueEntries == 1023)
        #expect(host.capabilities.contiguousQueuesRequired)
        #expect(host.capabilities.supportsNVMCommandSet)
        try host.enable()
        #expect(host.status.ready)
        #expect(!host.status.controllerFatalStatus)
    }

    @Test func identifyControllerDescribesTheEmulator() throws {
        let host = try TestHost()
        try host.enable()
        let data = try host.controller.dma.allocate(length: 4096)
        var sqe = SubmissionQueueEntry.identify(cns: .controller)
        sqe.prp1 = data.iova.rawValue
        let cqe = host.adminCommand(sqe)
        #expect(cqe.status == .success)
        let id = try IdentifyController(bytes: UnsafeRawBufferPointer(data.bytes))
        #expect(id.vendorID == 0x1B36)
        #expect(id.numberOfNamespaces == 1)
        #expect(id.mdts == 5)
        #expect(id.sqes == 0x66 && id.cqes == 0x44)
        #expect(id.serialNumber == "EMU00000001")
    }

    @Test func writeThenReadRoundTrips() throws {
        let (host, queue) = try TestHost.ready()
        let buffer = try host.controller.dma.allocate(length: 8192)
        let data = pattern(8192, seed: 1)
        buffer.fill(data)
        var write = SubmissionQueueEntry.write(namespaceID: 1, lba: 10, blocks: 16)
        write.prp1 = buffer.iova.rawValue
        write.prp2 = buffer.iova.rawValue + 4096
        #expect(queue.execute(write).status == .success)
        let readBuffer = try host.controller.dma.allocate(length: 8192)
        var read = SubmissionQueueEntry.read(namespaceID: 1, lba: 10, blocks: 16)
        read.prp1 = readBuffer.iova.rawValue
        read.prp2 = readBuffer.iova.rawValue + 4096
        #expect(queue.execute(read).status == .success)
        #expect(readBuffer.read(8192) == data)
    }
}
