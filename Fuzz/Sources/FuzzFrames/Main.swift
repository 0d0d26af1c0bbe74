import FuzzSupport

/// The executable's entry point (SwiftPM links `main` to it): libFuzzer's driver on this target.
@_cdecl("fuzz_frames_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzFrames(data, size) }
}
