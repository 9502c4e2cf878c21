/// How far an upload has come.
public struct UploadProgress: Sendable, Hashable {
    /// Bytes the server has confirmed, from the start of the file.
    public var bytesUploaded: Int64
    /// The file's size, or `nil` for a stream of unknown length.
    public var totalBytes: Int64?

    /// Creates a progress report.
    public init(bytesUploaded: Int64, totalBytes: Int64?) {
        self.bytesUploaded = bytesUploaded
        self.totalBytes = totalBytes
    }

    /// The fraction done, from 0 to 1, or `nil` when the size is unknown.
    public var fractionCompleted: Double? {
        guard let totalBytes else { return nil }
        return totalBytes == 0 ? 1 : Double(bytesUploaded) / Double(totalBytes)
    }
}
