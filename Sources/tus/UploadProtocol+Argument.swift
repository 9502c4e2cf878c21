public import ArgumentParser
public import TusClient

/// `--protocol tus|ietf|auto`.
extension UploadProtocol: ExpressibleByArgument {}
