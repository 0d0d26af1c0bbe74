/// The NVMe spec's types (commands, completions, status, registers, data structures) are the
/// driver's vocabulary: a user of `import NVMe` sees them without a second import.
@_exported import NVMeSpec
