import Foundation
import MailPortCore
import MailPortProbe
import MailPortTargets

/// Entry points for libFuzzer (`scripts/fuzz`) and, in ordinary builds, a replayer of saved inputs.
#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let target = ProcessInfo.processInfo.environment["MAILPORT_FUZZ_TARGET"] ?? "targets"
    FuzzHarness.run(target, data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// SwiftPM links an executable's entry point under `<module>_main`; hand the process to libFuzzer's driver.
@_cdecl("mailport_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments, fuzzOneInput)
}
#else
@main
enum FuzzReplay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let target = arguments.first, FuzzHarness.targets.contains(target) else {
            FileHandle.standardError.write(
                Data(
                    "usage: mailport-fuzz TARGET FILE...; targets: \(FuzzHarness.targets.joined(separator: ", "))\n"
                        .utf8))
            exit(2)
        }
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            FuzzHarness.run(target, Array(data))
        }
        print("replayed \(arguments.count - 1) inputs through \(target)")
    }
}
#endif
