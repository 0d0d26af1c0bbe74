import NVMe
import NVMeEmulator
import Testing
import VFIO

@Suite struct BringUpTests {
    @Test func bringUpIdentifiesControllerAndNamespaces() throws {
        let rig = try Rig(namespaces: [
            EmulatedNamespace(blockSize: 512, capacityInBlocks: 8192),
            EmulatedNamespace(blockSize: 4096, capacityInBlocks: 1024),
        ])
        let c = rig.controller
        #expect(c.identity.modelNumber == "swift-vfio emulated NVMe")
        #expect(c.identity.serialNumber == "EMU00000001")
        #expect(c.grantedQueuePairs == 4)
        #expect(c.maximumTransferBytes == 4096 << 5)
        #expect(c.namespaces.map(\.id) == [1, 2])
        #expect(c.namespaces[0].blockSize == 512 && c.namespaces[0].blockCount == 8192)
        #expect(c.namespaces[1].blockSize == 4096 && c.namespaces[1].blockCount == 1024)
        #expect(c.status.ready)
        #expect(c.interruptVectors == 5)
    }

    @Test func closeShutsDownAndReleasesQueues() throws {
        let rig = try Rig()
        var pair = try rig.controller.makeQueuePair()
        #expect(pair.id == 1)
        _ = pair.outstanding
        try rig.controller.close()
        let status = rig.controller.status
        #expect(!status.ready)
        #expect(rig.device.statistics.admin(AdminOpcode.deleteIOSubmissionQueue.rawValue).commands == 1)
        #expect(throws: NVMeError.closed) { _ = try rig.controller.makeQueuePair() }
        pair.ringSubmissionDoorbell()
    }
}
