public import Foundation

/// A new folder under the system's temporary folder, removed when the value
/// is released.
public final class TemporaryFolder: Sendable {
    public let path: String

    /// The folder as a file URL.
    public var url: URL { URL(fileURLWithPath: path) }

    public init() throws {
        let base = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("swift-tus-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    /// A path inside the folder that nothing uses yet.
    public func newPath(_ name: String) -> String {
        (path as NSString).appendingPathComponent("\(UUID().uuidString.prefix(8))-\(name)")
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}
