/// Which bytes of a file a fingerprint hashes.
public enum FingerprintScope: Sendable, Hashable, CaseIterable {
    /// The first 65,536 bytes (all of a smaller file), as tuspy does. Fast
    /// whatever the file's size; files that share their size and first
    /// 64 KiB share a key.
    case firstBlock
    /// Every byte, read in 1 MiB pieces so memory stays bounded. The label in
    /// the key gains `-whole`, so the two scopes never produce the same key
    /// for different content.
    case wholeFile

    /// How many bytes tuspy hashes: its `Fingerprint.BLOCK_SIZE`.
    public static let firstBlockSize = 65_536
}
