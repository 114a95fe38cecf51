import Foundation

/// The libFuzzer driver shared by the fuzz targets. SwiftPM gives an executable its own `main`,
/// so libFuzzer is started through `LLVMFuzzerRunDriver` instead of its built-in main.
public enum FuzzInput {
    /// A scratch file per process (parsers read files, as users' inputs are files).
    public static func file(extension ext: String) -> URL {
        let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        return URL(fileURLWithPath: folder).appendingPathComponent("distillery-fuzz-\(getpid()).\(ext)")
    }

    #if FUZZING
    public static func run(_ body: @escaping (Data) -> Void) -> Never {
        FuzzInput.body = body
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, count in
            FuzzInput.body?(data.map { Data(bytes: $0, count: count) } ?? Data())
            return 0
        })
    }

    nonisolated(unsafe) private static var body: ((Data) -> Void)?
    #endif
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                                 _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                                 _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
#endif
