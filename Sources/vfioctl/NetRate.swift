#if canImport(Glibc)
import Glibc
#endif

/// Packet rate figures as ixy reports them (packets per second, Mbit/s, CPU cycles per packet).
///
/// Cycles per packet are the driver threads' CPU time (CLOCK_THREAD_CPUTIME_ID) times the clock
/// rate the kernel reports in /proc/cpuinfo ("cpu MHz", the TSC rate on x86): an estimate without
/// a cycle counter (Swift cannot issue `rdtsc`, and perf counters are often unavailable in VMs
/// and containers). For a busy-polling thread this equals ixy's figure, clock rate / packets per
/// second on one core; in interrupt mode it counts only the time the thread ran.
struct PacketRate {
    var packets: UInt64
    var bytes: UInt64
    var seconds: Double
    var cpuNanoseconds: UInt64
    var cpuMHz: Double?

    var packetsPerSecond: Double { seconds > 0 ? Double(packets) / seconds : 0 }
    /// Frame bits (no FCS, preamble or inter-frame gap) per second, in millions.
    var megabitsPerSecond: Double { seconds > 0 ? Double(bytes) * 8 / seconds / 1e6 : 0 }
    var cpuNanosecondsPerPacket: Double { packets > 0 ? Double(cpuNanoseconds) / Double(packets) : 0 }
    var cyclesPerPacket: Double? { cpuMHz.map { cpuNanosecondsPerPacket * $0 / 1000 } }

    var json: [(String, JSON)] {
        [
            ("packets", .uint(packets)), ("bytes", .uint(bytes)), ("seconds", .double(round3(seconds))),
            ("pps", .double(packetsPerSecond.rounded())), ("mbit_per_s", .double(round3(megabitsPerSecond))),
            ("cpu_ns_per_packet", .double(round3(cpuNanosecondsPerPacket))),
            ("cycles_per_packet", cyclesPerPacket.map { .double($0.rounded()) } ?? .null),
            ("cpu_mhz", cpuMHz.map { .double(round3($0)) } ?? .null),
        ]
    }

    var text: String {
        var line = "\(packets) packets in \(format1(seconds)) s: \(Int(packetsPerSecond.rounded())) pps, \(format1(megabitsPerSecond)) Mbit/s"
        line += ", \(Int(cpuNanosecondsPerPacket.rounded())) ns CPU per packet"
        if let c = cyclesPerPacket, let mhz = cpuMHz { line += " (~\(Int(c.rounded())) cycles at \(Int(mhz.rounded())) MHz)" }
        return line
    }
}

func round3(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }

/// The first "cpu MHz" line of /proc/cpuinfo, or nil.
func cpuMegahertz() -> Double? {
    guard let file = fopen("/proc/cpuinfo", "r") else { return nil }
    defer { fclose(file) }
    var line: UnsafeMutablePointer<CChar>?
    var capacity = 0
    defer { free(line) }
    while getline(&line, &capacity, file) > 0 {
        guard let line else { break }
        let text = String(cString: line)
        guard text.hasPrefix("cpu MHz") else { continue }
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let value = text[text.index(after: colon)...].trimmingCharacters(in: " \t\n")
        if let mhz = Double(value), mhz > 0, mhz < 100_000 { return mhz }
        return nil
    }
    return nil
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self[...]
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
