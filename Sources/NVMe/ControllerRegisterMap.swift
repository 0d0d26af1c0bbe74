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
