public import ArgumentParser
public import TusCore

/// `--checksum sha1|sha256|md5`: the algorithm's own names.
extension ChecksumAlgorithm: ExpressibleByArgument {}
