/// How far an upload has come.
public struct UploadProgress: Sendable, Hashable {
    /// Bytes the server has confirmed, from the start of the file.
    public var bytesUploaded: Int64
    /// The file's size, or `nil` for a stream of unknown length.
    public var totalBytes: Int64?
    /// Bytes sent, from the start of the file: those the server has
    /// confirmed, and those of the request under way that went out to the
    /// network. At least ``bytesUploaded``; it moves while a request's body
    /// goes out, where ``bytesUploaded`` moves when the server answers. Bytes
    /// of a request that fails are sent again, so it may go back.
    public var bytesSent: Int64

    /// Creates a progress report; `bytesSent` is `bytesUploaded` unless
    /// given.
    public init(bytesUploaded: Int64, totalBytes: Int64?, bytesSent: Int64? = nil) {
        self.bytesUploaded = bytesUploaded
        self.totalBytes = totalBytes
        self.bytesSent = max(bytesSent ?? bytesUploaded, bytesUploaded)
    }

    /// The fraction done, from 0 to 1, or `nil` when the size is unknown.
    public var fractionCompleted: Double? {
        guard let totalBytes else { return nil }
        return totalBytes == 0 ? 1 : Double(bytesUploaded) / Double(totalBytes)
    }
}
