import ArgumentParser
import Foundation
import TusCore
import TusFingerprints

/// `tus fingerprint FILE`: the key a file's upload URL is stored under.
struct FingerprintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fingerprint",
        abstract: "Print the key a file's upload URL is stored under.",
        discussion: """
            The default, md5, is tuspy's key: size:<bytes>--md5:<md5 of the first 64 KiB>. \
            --whole-file hashes every byte instead.
            """
    )

    enum Algorithm: String, ExpressibleByArgument, CaseIterable {
        case md5, sha256
    }

    @Argument(help: "The file to fingerprint.")
    var file: String

    @Option(help: "The hash: \(Algorithm.allCases.map(\.rawValue).joined(separator: " or ")).")
    var algorithm: Algorithm = .md5

    @Flag(help: "Hash the whole file, not only its first 64 KiB.")
    var wholeFile = false

    func run() throws {
        let scope: FingerprintScope = wholeFile ? .wholeFile : .firstBlock
        let fingerprint: any Fingerprint = switch algorithm {
        case .md5: MD5Fingerprint(scope: scope)
        case .sha256: SHA256Fingerprint(scope: scope)
        }
        print(try fingerprint.fingerprint(ofFileAtPath: file))
    }
}
