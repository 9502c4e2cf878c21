import Foundation

/// A new folder under the system's temporary folder, removed when the value
/// is released.
final class TemporaryFolder: Sendable {
    let path: String

    init() throws {
        let base = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("swift-tus-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    /// A path inside the folder that nothing uses yet.
    func newPath(_ name: String) -> String {
        (path as NSString).appendingPathComponent("\(UUID().uuidString.prefix(8))-\(name)")
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}
