/// The 82574's register and descriptor types and `MACAddress` are the driver's vocabulary: a user
/// of `import NIC` sees them without a second import.
@_exported import E1000ESpec
