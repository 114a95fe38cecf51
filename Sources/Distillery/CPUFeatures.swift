import Foundation

/// The kernels are compiled for Haswell's instruction set (Package.swift's `vectorCode`: AVX2, FMA,
/// BMI, F16C, MOVBE, LZCNT, POPCNT; every x86-64 server CPU since 2013). On an older CPU they would
/// stop with an illegal instruction in the middle of a run, so the CLI checks first and names what
/// is missing. `DISTILLERY_FAULT_CPU_FLAGS` replaces the CPU's flags (tests).
enum CPUFeatures {
    /// /proc/cpuinfo's names ("abm" is LZCNT).
    static let needed = ["avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "abm", "popcnt"]

    /// The flags of a /proc/cpuinfo text; nil when it has no flags line (not Linux x86).
    static func flags(cpuinfo: String) -> Set<String>? {
        guard let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return nil }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }

    /// The needed flags a /proc/cpuinfo text lacks; none when it has no flags line (not Linux x86).
    static func missing(cpuinfo: String) -> [String] {
        guard let flags = flags(cpuinfo: cpuinfo) else { return [] }
        return needed.filter { !flags.contains($0) }
    }

    /// This CPU's /proc/cpuinfo, or the flags `DISTILLERY_FAULT_CPU_FLAGS` names instead.
    static var cpuinfo: String {
        ProcessInfo.processInfo.environment["DISTILLERY_FAULT_CPU_FLAGS"].map { "flags\t: \($0)" }
            ?? (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    }

    /// Stops the process with a message when the CPU of `cpuinfo` lacks what the kernels were compiled for.
    static func check(_ cpuinfo: String) {
        #if arch(x86_64)
        let lacking = missing(cpuinfo: cpuinfo)
        guard !lacking.isEmpty else { return }
        FileHandle.standardError.write(Data("error: distillery is built for x86-64 CPUs with AVX2 and FMA (Haswell or later); this CPU lacks \(lacking.joined(separator: ", ")) (see /proc/cpuinfo)\n".utf8))
        exit(1)
        #endif
    }
}
