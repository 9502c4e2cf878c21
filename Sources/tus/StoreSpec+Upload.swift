import TusClient
import TusCore

extension StoreSpec {
    /// Opens the store for `tus upload`. A store that cannot be reached
    /// (see `TusError.isStoreOutage`: a refused connection, a full or
    /// read-only disk) is passed to `warn` and the upload goes on without
    /// it, unless `required`; any other error is thrown.
    func openForUpload(required: Bool, warn: (TusError) -> Void) throws -> (any ListableStorage)? {
        do {
            return try open()
        } catch let error as TusError where !required && error.isStoreOutage {
            warn(error)
            return nil
        }
    }
}
