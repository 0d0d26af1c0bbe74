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

/// The 82574's register and descriptor types and `MACAddress` are the driver's vocabulary: a user
/// of `import NIC` sees them without a second import.
@_exported import E1000ESpec
