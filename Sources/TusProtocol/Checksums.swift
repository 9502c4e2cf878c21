import Crypto
package import Foundation
package import TusCore

/// An `Upload-Checksum` value: an algorithm and the digest of one request's
/// body, sent as the algorithm's name, a space and the base64 digest
/// (`sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=`).
///
/// Part of `TusProtocol`, the wire format shared by `TusClient` and
/// `TusDevServer`, with `package` access: seen by this package's modules
/// only, never by its users.
package struct UploadChecksum: Sendable, Hashable {
    /// The algorithms both sides know: ``TusCore/ChecksumAlgorithm``.
    package typealias Algorithm = ChecksumAlgorithm

    /// Why a header value was refused.
    package enum ParseError: Error, Sendable, Equatable {
        /// Not two words.
        case malformed
        /// An algorithm unknown or not among those accepted; its name,
        /// lowercased.
        case unsupportedAlgorithm(String)
        /// The digest is not base64.
        case digestNotBase64
    }

    /// The algorithm.
    package var algorithm: Algorithm
    /// The digest's bytes.
    package var digest: Data

    /// A checksum made with `algorithm`.
    package init(algorithm: Algorithm, digest: Data) {
        self.algorithm = algorithm
        self.digest = digest
    }

    /// Reads a header value: two words apart from surrounding whitespace,
    /// the algorithm's name in any case, then the base64 digest.
    ///
    /// - Parameter accepted: the algorithms to accept; any other is
    ///   ``ParseError/unsupportedAlgorithm(_:)``.
    /// - Throws: ``ParseError``, checked in that order: the shape, the
    ///   algorithm, the digest.
    package init(headerValue: String, accepting accepted: [Algorithm] = Algorithm.allCases) throws(ParseError) {
        let parts = headerValue.trimmingCharacters(in: .whitespaces).split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2 else { throw .malformed }
        let name = parts[0].lowercased()
        guard let algorithm = Algorithm(rawValue: name), accepted.contains(algorithm) else {
            throw .unsupportedAlgorithm(name)
        }
        guard let digest = Data(base64Encoded: String(parts[1])) else { throw .digestNotBase64 }
        self.init(algorithm: algorithm, digest: digest)
    }

    /// The header value: the algorithm's name, a space, the base64 digest.
    package var headerValue: String {
        "\(algorithm.rawValue) \(digest.base64EncodedString())"
    }

    /// The digest of bytes given a piece at a time.
    ///
    /// ```swift
    /// var hasher = UploadChecksum.Hasher(.sha256)
    /// for piece in pieces { piece.withUnsafeBytes { hasher.update($0) } }
    /// let header = hasher.finalize().headerValue
    /// ```
    package struct Hasher {
        private enum State {
            case sha1(Insecure.SHA1)
            case sha256(SHA256)
            case md5(Insecure.MD5)
        }

        /// The algorithm it computes.
        package let algorithm: Algorithm
        private var state: State

        /// A hasher that has seen no bytes.
        package init(_ algorithm: Algorithm) {
            self.algorithm = algorithm
            state =
                switch algorithm {
                case .sha1: .sha1(Insecure.SHA1())
                case .sha256: .sha256(SHA256())
                case .md5: .md5(Insecure.MD5())
                }
        }

        /// Adds `bytes` to the digest.
        package mutating func update(_ bytes: UnsafeRawBufferPointer) {
            switch state {
            case .sha1(var hash):
                hash.update(bufferPointer: bytes)
                state = .sha1(hash)
            case .sha256(var hash):
                hash.update(bufferPointer: bytes)
                state = .sha256(hash)
            case .md5(var hash):
                hash.update(bufferPointer: bytes)
                state = .md5(hash)
            }
        }

        /// The checksum of the bytes given so far.
        package func finalize() -> UploadChecksum {
            let digest =
                switch state {
                case .sha1(let hash): Data(hash.finalize())
                case .sha256(let hash): Data(hash.finalize())
                case .md5(let hash): Data(hash.finalize())
                }
            return UploadChecksum(algorithm: algorithm, digest: digest)
        }
    }
}
