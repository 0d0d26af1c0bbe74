import VFIO

/// Why an emulated controller could not be created.
public enum EmulatorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The configuration is inconsistent; each string names one problem.
    case invalidConfiguration([String])
    /// A namespace's backing file could not be set up.
    case backingFile(path: String, operation: String, errno: Int32)
    /// Memory for BAR0 could not be mapped.
    case barAllocation(bytes: Int, errno: Int32)
    /// The controller thread could not be started.
    case threadStart(errno: Int32)

    public var description: String {
        switch self {
        case .invalidConfiguration(let problems):
            return "invalid emulated NVMe configuration: \(problems.joined(separator: "; "))"
        case .backingFile(let path, let operation, let errno):
            return "namespace backing file \(path): \(operation) failed: \(VFIOError.errnoText(errno)) (errno \(errno)); choose a writable path on a file system with sparse files"
        case .barAllocation(let bytes, let errno):
            return "could not map \(bytes) bytes for the emulated BAR0: \(VFIOError.errnoText(errno)); lower the queue or vector count"
        case .threadStart(let errno):
            return "could not start the emulated controller thread: \(VFIOError.errnoText(errno)); use .stepped mode or raise the thread limit"
        }
    }
}
