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

import VFIO

// The register values become typed registers for `MMIORegion.read(_:)`/`write(_:_:)`, so
// driver logic never uses a raw offset.
extension Capabilities: RegisterValue {}
extension ControllerConfiguration: RegisterValue {}
extension ControllerStatus: RegisterValue {}
extension AdminQueueAttributes: RegisterValue {}
extension NVMeVersion: RegisterValue {}

/// BAR0 registers of an NVMe controller (NVMe base 1.4, 3.1), as typed `Register`s.
public enum ControllerRegister {
    /// CAP (3.1.1), 64-bit.
    @inlinable public static var capabilities: Register<Capabilities> { Register(offset: ControllerRegisterOffset.capabilities.rawValue) }
    /// VS (3.1.2).
    @inlinable public static var version: Register<NVMeVersion> { Register(offset: ControllerRegisterOffset.version.rawValue) }
    /// CC (3.1.5).
    @inlinable public static var configuration: Register<ControllerConfiguration> { Register(offset: ControllerRegisterOffset.controllerConfiguration.rawValue) }
    /// CSTS (3.1.6).
    @inlinable public static var status: Register<ControllerStatus> { Register(offset: ControllerRegisterOffset.controllerStatus.rawValue) }
    /// AQA (3.1.7).
    @inlinable public static var adminQueueAttributes: Register<AdminQueueAttributes> { Register(offset: ControllerRegisterOffset.adminQueueAttributes.rawValue) }
    /// ASQ (3.1.8), 64-bit IOVA of the admin SQ.
    @inlinable public static var adminSubmissionQueueBase: Register<UInt64> { Register(offset: ControllerRegisterOffset.adminSubmissionQueueBase.rawValue) }
    /// ACQ (3.1.9), 64-bit IOVA of the admin CQ.
    @inlinable public static var adminCompletionQueueBase: Register<UInt64> { Register(offset: ControllerRegisterOffset.adminCompletionQueueBase.rawValue) }
}
