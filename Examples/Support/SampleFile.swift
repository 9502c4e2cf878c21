public import Foundation

/// The file to upload: the one given, or a 4 MiB sample file made in
/// `scratch` (and said so on standard output).
///
/// The sample file holds the same bytes every time, so a second run has the
/// same fingerprint and resumes.
public func fileToUpload(_ given: String?, scratch: URL) throws -> String {
    if let given { return given }
    let file = scratch.appendingPathComponent("sample.bin").path
    try makeSampleFile(at: file, size: 4 << 20)
    print("Made a sample file of 4 MiB: \(file)")
    return file
}

/// Writes a file of `size` pseudo-random bytes, the same bytes every time.
func makeSampleFile(at path: String, size: Int) throws {
    var state: UInt32 = 2_463_534_242
    var bytes = [UInt8](repeating: 0, count: size)
    for index in bytes.indices {
        state ^= state << 13; state ^= state >> 17; state ^= state << 5
        bytes[index] = UInt8(truncatingIfNeeded: state)
    }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}
