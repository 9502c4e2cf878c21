// Managing stored URLs: the tuspy documentation's example, in Swift.
//
//   swift run managing-stored-urls [FILE] [STORE.json]
//
// It fingerprints FILE (by default a sample file it makes), looks up the
// upload URL stored under that key, and removes it, as an application does
// after a successful upload. Without a stored URL it stores one first, so
// every step has something to show.
import Foundation
import TusCore
import TusFileStorage
import TusFingerprints

let usage = "usage: managing-stored-urls [FILE] [STORE.json]"
let arguments = CommandLine.arguments.dropFirst()
if arguments.contains("--help") || arguments.contains("-h") {
    print(usage)
    exit(0)
}
if let option = arguments.first(where: { $0.hasPrefix("-") }) {
    FileHandle.standardError.write(Data("error: unknown option \(option); \(usage)\n".utf8))
    exit(2)
}
if arguments.count > 2 {
    FileHandle.standardError.write(Data("error: too many arguments; \(usage)\n".utf8))
    exit(2)
}
let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tus-example-\(getpid())")
try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)

let file: String
if let given = arguments.first {
    file = given
} else {
    file = scratch.appendingPathComponent("sample.bin").path
    try Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 * 31) }).write(to: URL(fileURLWithPath: file))
}
let storePath = arguments.dropFirst().first ?? scratch.appendingPathComponent("tus_uploads.json").path

do {
    // Create storage and fingerprint instances.
    let storage = try FileStorage(path: storePath)
    let fingerprinter = MD5Fingerprint()

    // Generate a fingerprint for the file.
    let key = try fingerprinter.fingerprint(ofFileAtPath: file)
    print("Fingerprint of \(file): \(key)")

    // Check whether a URL is stored.
    if let storedURL = try await storage.url(forKey: key) {
        print("Found stored URL: \(storedURL)")
    } else {
        print("No stored URL found for this file")
        // What an uploader does right after creating the upload.
        try await storage.setURL("http://127.0.0.1:1080/files/24e533e02ec3bc40c387f1a0e460e216", forKey: key)
        print("Stored \(try await storage.url(forKey: key) ?? "nothing") under the key")
    }

    // Every entry, with when it was stored.
    for entry in try await storage.entries() {
        print("  \(entry.key) -> \(entry.url) (stored \(entry.storedAt.map { "\($0)" } ?? "at an unknown time"))")
    }

    // Manually remove the stored URL (e.g. after a successful upload).
    try await storage.removeURL(forKey: key)
    print("Removed; the store now holds \(try await storage.entries().count) entries")

    try await storage.close()
} catch let error as TusError {
    FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
    try? FileManager.default.removeItem(at: scratch)
    exit(2)
}
try? FileManager.default.removeItem(at: scratch)
