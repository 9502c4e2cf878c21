import Foundation

/// Where the programs the fixtures run are installed.
enum Executables {
    /// The first of `candidates` that is executable, else `name` found on
    /// `PATH`. Candidates come first because Debian keeps nginx and
    /// tinyproxy in `/usr/sbin`, which is not on every user's `PATH`.
    static func find(_ name: String, candidates: [String] = []) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let folders = path.split(separator: ":").map { String($0) }
        for candidate in candidates + folders.map({ ($0 as NSString).appendingPathComponent(name) })
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw FixtureError("\(name) is not installed (looked in \(candidates + folders)); run scripts/setup --test")
    }
}
