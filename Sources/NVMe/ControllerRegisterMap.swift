import VFIO

// The spec types live in Spec/ without knowledge of the VFIO layer; here they become typed
// registers for `MMIORegion.read(_:)`/`write(_:_:)`, so driver logic never uses a raw offset.
extension Capabilities: RegisterValue {}
extension ControllerConfiguration: RegisterValue {}
extension ControllerStatus: RegisterValue {}
extension AdminQueueAttributes: RegisterValue {}
extension NVMeVersion: RegisterValue {}

/// BAR0 registers of an NVMe controller (NVMe base 1.4, 3.1), as typed `Register`s.
enum ControllerRegister {
    /// CAP (3.1.1), 64-bit.
    static let capabilities = Register<Capabilities>(offset: ControllerRegisterOffset.capabilities.rawValue)
    /// VS (3.1.2).
    static let version = Register<NVMeVersion>(offset: ControllerRegisterOffset.version.rawValue)
    /// CC (3.1.5).
    static let configuration = Register<ControllerConfiguration>(offset: ControllerRegisterOffset.controllerConfiguration.rawValue)
    /// CSTS (3.1.6).
    static let status = Register<ControllerStatus>(offset: ControllerRegisterOffset.controllerStatus.rawValue)
    /// AQA (3.1.7).
    static let adminQueueAttributes = Register<AdminQueueAttributes>(offset: ControllerRegisterOffset.adminQueueAttributes.rawValue)
    /// ASQ (3.1.8), 64-bit IOVA of the admin SQ.
    static let adminSubmissionQueueBase = Register<UInt64>(offset: ControllerRegisterOffset.adminSubmissionQueueBase.rawValue)
    /// ACQ (3.1.9), 64-bit IOVA of the admin CQ.
    static let adminCompletionQueueBase = Register<UInt64>(offset: ControllerRegisterOffset.adminCompletionQueueBase.rawValue)
}

/// Resolves a queue's doorbells once, at the stride from CAP.DSTRD (NVMe base 1.4, 3.1.24-25), so
/// the I/O path stores to a precomputed address.
struct DoorbellStride {
    let registers: MMIORegion
    /// CAP.DSTRD, the exponent.
    let exponent: Int

    /// Highest queue id whose two doorbells lie inside the mapped BAR. A device with a large
    /// DSTRD and a small BAR would otherwise make the driver store outside the mapping.
    var highestQueueID: Int {
        let strideBytes = 4 << exponent
        let available = registers.length - ControllerRegisterOffset.doorbellBase.rawValue
        // Doorbells of queue q end at 0x1000 + (2q + 1) * stride + 4.
        guard available >= strideBytes + 4 else { return -1 }
        return min(Int(UInt16.max), ((available - 4) / strideBytes - 1) / 2)
    }

    func submissionTail(queue: UInt16) -> Doorbell {
        registers.doorbell(at: ControllerRegisterOffset.doorbellOffset(queue: queue, completion: false, stride: exponent))
    }

    func completionHead(queue: UInt16) -> Doorbell {
        registers.doorbell(at: ControllerRegisterOffset.doorbellOffset(queue: queue, completion: true, stride: exponent))
    }
}
