import ArgumentParser
import VFIO

/// `vfioctl`: bind devices to vfio-pci, look at them, and drive NVMe controllers from userspace.
/// Parsing and printing only; the work happens in the VFIO and NVMe libraries.
@main
struct Vfioctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vfioctl",
        abstract: "Userspace driver framework over VFIO: bind devices, inspect them, drive NVMe.",
        discussion: """
            DEV is a PCI address (0000:01:00.0 or 01:00.0) bound to vfio-pci, or `emulated` (the \
            default): an in-process NVMe controller, so every command works without hardware.
            """,
        subcommands: [List.self, Bind.self, Unbind.self, Setup.self]
    )
}

/// Runs a command body and turns any error into one line on stderr and a non-zero exit, instead of
/// ArgumentParser's usage dump or a stack trace.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        printError("vfioctl: \(error)")
        throw ExitCode(1)
    }
}
