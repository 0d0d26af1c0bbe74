import FuzzSupport

/// The executable's entry point (SwiftPM links `main` to it): libFuzzer's driver on this target.
@_cdecl("fuzz_tcp_pdu_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzTCPPDU(data, size) }
}
