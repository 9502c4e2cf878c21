import Foundation

/// How many bytes the system still holds to send on this process's TCP
/// connections to a port: written by the process, not yet acknowledged by
/// the other end.
///
/// A request whose body is all handed to the system is not done: on a slow
/// link the system's buffers may hold megabytes that drain for minutes, and
/// on a stalled one they never drain. AsyncHTTPClient does not give its
/// connections' sockets out, so the stall watch reads the kernel's TCP table
/// instead (`/proc/net/tcp` and `tcp6`, the rows whose socket inode is one of
/// this process's descriptors): a queue that shrinks is a link that moves.
/// Elsewhere than Linux it is nil, and the watch cannot tell.
enum SendQueue {
    /// The bytes queued to send over every connection of this process to
    /// `port`, or nil when the system does not tell.
    static func bytes(toPort port: Int) -> Int? {
        #if os(Linux)
        guard let inodes = socketInodes() else { return nil }
        var total = 0
        var found = false
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = contents(of: table) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
                guard fields.count > 9, inodes.contains(String(fields[9])),
                      let remotePort = fields[2].split(separator: ":").last.flatMap({ Int($0, radix: 16) }), remotePort == port,
                      let queue = fields[4].split(separator: ":").first.flatMap({ Int($0, radix: 16) })
                else { continue }
                total += queue
                found = true
            }
        }
        return found ? total : nil
        #else
        return nil
        #endif
    }

    #if os(Linux)
    /// The whole of a file of `/proc`, whose size the system reports as 0:
    /// read to its end (`String(contentsOfFile:)` stops after one page).
    private static func contents(of path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.readToEnd() else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// The inodes of this process's sockets, from its descriptors' links
    /// (`socket:[12345]`).
    private static func socketInodes() -> Set<String>? {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return nil }
        var inodes = Set<String>()
        for name in names {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(name)"),
                  target.hasPrefix("socket:["), target.hasSuffix("]")
            else { continue }
            inodes.insert(String(target.dropFirst("socket:[".count).dropLast()))
        }
        return inodes
    }
    #endif
}
