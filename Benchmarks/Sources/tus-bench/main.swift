// tus-bench: measures the stores and fingerprints of swift-tus.
//
// Prints one JSON object per measurement on one line, for example
//   {"workload":"json-set","backend":"json","entries":1000,"ops":200,"ops_per_s":812.5,"peak_rss_bytes":9437184}
//
// Usage:
//   tus-bench json-set        --entries N --ops N --dir D
//   tus-bench json-get        --entries N --ops N --dir D
//   tus-bench sqlite-set      --entries N --ops N --dir D [--template T]
//   tus-bench sqlite-get      --entries N --ops N --dir D [--template T]
//   tus-bench sqlite-get-direct --entries N --ops N --dir D [--template T]
//   tus-bench grdb-set        --entries N --ops N --dir D [--template T]
//   tus-bench grdb-get        --entries N --ops N --dir D [--template T]
//   tus-bench redis-set       --entries N --ops N --url redis://127.0.0.1:P [--callers store|pool]
//   tus-bench redis-get       --entries N --ops N --url redis://127.0.0.1:P [--callers store|pool]
//   tus-bench md5-fingerprint --file F --ops N
//   tus-bench sha256-whole    --file F [--ops N]
//
// Store workloads fill a fresh store with N entries first (not timed; an
// SQLite store can start as a copy of a template file holding them), then
// time `ops` operations: a set stores a key the store does not hold yet, a get
// reads a key it holds. Keys and URLs have the shape real ones have
// (`size:<n>--md5:<32 hex digits>` and `https://tus.example/files/<32 hex digits>`).
//
// sqlite-get-direct does the gets of sqlite-get through SQLite's C API
// alone, synchronously: what SQLite's look-up itself allows, for the growth
// row.
//
// The Redis workloads make their calls, by default, from a task that prefers
// the store's executor (`RedisStorage.taskExecutor`): each call waits for
// its reply on the store's thread. With `--callers pool` they make them from
// a task of Swift concurrency's pool, as code that does not choose does.
//
// grdb-set and grdb-get are a Swift anchor beside Python's sqlite3 for the
// SQLite store: the same table, statements and pragmas as SQLiteStorage,
// through GRDB's DatabaseQueue and its async `write` and `read`.

import Foundation
import GRDB
import GRDBSQLite
import TusCore
import TusFileStorage
import TusFingerprints
import TusRedisStorage
import TusSQLiteStorage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: Arguments

struct Options {
    var workload = ""
    var entries = 1000
    var ops = 200
    var dir: String?
    var url: String?
    var file: String?
    var template: String?
    /// Where the Redis workloads make their calls from: "store", a task
    /// that prefers the store's executor (`RedisStorage.taskExecutor`), or
    /// "pool", a task of Swift concurrency's pool.
    var callers = "store"
}

func usage() -> Never {
    let text = """
        usage: tus-bench <workload> [--entries N] [--ops N] [--dir D] [--url U] [--file F] [--template T] [--callers store|pool]
        workloads: json-set json-get sqlite-set sqlite-get sqlite-get-direct grdb-set grdb-get redis-set redis-get md5-fingerprint
                   sha256-whole

        """
    FileHandle.standardError.write(Data(text.utf8))
    exit(2)
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("tus-bench: \(message)\n".utf8))
    exit(1)
}

func parseOptions() -> Options {
    var arguments = CommandLine.arguments.dropFirst()
    guard let workload = arguments.popFirst(), !workload.hasPrefix("-") else { usage() }
    var options = Options(workload: workload)
    while let flag = arguments.popFirst() {
        guard let value = arguments.popFirst() else { fail("\(flag) needs a value") }
        switch flag {
        case "--entries":
            guard let n = Int(value), n >= 0 else { fail("--entries wants a count, not \(value)") }
            options.entries = n
        case "--ops":
            guard let n = Int(value), n > 0 else { fail("--ops wants a positive count, not \(value)") }
            options.ops = n
        case "--dir": options.dir = value
        case "--url": options.url = value
        case "--file": options.file = value
        case "--template": options.template = value
        case "--callers":
            guard value == "store" || value == "pool" else { fail("--callers wants store or pool, not \(value)") }
            options.callers = value
        default: fail("unknown option \(flag)")
        }
    }
    return options
}

// MARK: Measuring

func peakRSSBytes() -> Int {
    var usage = rusage()
    #if canImport(Darwin)
    getrusage(RUSAGE_SELF, &usage)
    return Int(usage.ru_maxrss)  // bytes on Darwin
    #else
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) * 1024  // kibibytes on Linux
    #endif
}

func seconds(_ duration: Duration) -> Double {
    let parts = duration.components
    return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
}

/// Times `body` on the continuous clock, in seconds.
func timed(_ body: () async throws -> Void) async throws -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    try await body()
    return seconds(clock.now - start)
}

func report(_ workload: String, backend: String, entries: Int, ops: Int, rate: (String, Double), extra: [String: Int] = [:]) {
    var fields: [(String, String)] = [
        ("workload", "\"\(workload)\""),
        ("backend", "\"\(backend)\""),
        ("entries", "\(entries)"),
        ("ops", "\(ops)"),
        (rate.0, String(format: "%.1f", rate.1)),
    ]
    for (name, value) in extra.sorted(by: { $0.key < $1.key }) { fields.append((name, "\(value)")) }
    fields.append(("peak_rss_bytes", "\(peakRSSBytes())"))
    print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
}

// MARK: Keys

/// The `index`-th key and URL, the same ones `Benchmarks/compare` gives the references.
func entry(_ index: Int) -> (key: String, url: String) {
    let digits = String(format: "%032lx", index &* 2_654_435_761 & 0xffff_ffff_ffff)
    return ("size:\(1_048_576 + index)--md5:\(digits)", "https://tus.example/files/\(digits)")
}

// MARK: Store workloads

/// Writes a TinyDB file holding the first `count` entries, the way FileStorage
/// and tuspy lay it out. Filling through `setURL` would rewrite the file once
/// per entry, which takes minutes for 10,000 entries.
func writeJSONStore(at path: String, count: Int) throws {
    var table: [String: Any] = [:]
    let storedAt = 1_750_000_000.0
    for index in 0..<count {
        let (key, url) = entry(index)
        table[String(index + 1)] = ["key": key, "url": url, "stored_at": storedAt]
    }
    let data = try JSONSerialization.data(withJSONObject: ["_default": table])
    guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600]) else {
        fail("cannot write \(path)")
    }
}

func freshPath(_ options: Options, _ name: String) -> String {
    guard let dir = options.dir else { fail("\(options.workload) needs --dir") }
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let path = (dir as NSString).appendingPathComponent(name)
    for suffix in ["", ".lock", ".tmp", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    return path
}

/// Times `ops` sets of new keys, or gets of held keys, on `store` that holds
/// the first `entries` entries.
func runStore(_ store: some Storage, set: Bool, entries: Int, ops: Int) async throws -> Double {
    if set {
        let fresh = (0..<ops).map { entry(entries + $0) }
        return try await timed {
            for (key, url) in fresh { try await store.setURL(url, forKey: key) }
        }
    }
    guard entries > 0 else { fail("a get workload needs --entries > 0") }
    // Spread the reads over the whole store, in a fixed order.
    let keys = (0..<ops).map { entry(($0 &* 7919) % entries).key }
    var found = 0
    let elapsed = try await timed {
        for key in keys where try await store.url(forKey: key) != nil { found += 1 }
    }
    if found != ops { fail("only \(found) of \(ops) keys were found") }
    return elapsed
}

func jsonWorkload(_ options: Options, set: Bool) async throws {
    let path = freshPath(options, "bench.json")
    try writeJSONStore(at: path, count: options.entries)
    let store = try FileStorage(path: path)
    let elapsed = try await runStore(store, set: set, entries: options.entries, ops: options.ops)
    try await store.close()
    report(options.workload, backend: "json", entries: options.entries, ops: options.ops,
           rate: ("ops_per_s", Double(options.ops) / elapsed))
}

func sqliteWorkload(_ options: Options, set: Bool) async throws {
    let path = sqliteCopy(options, "bench.sqlite")
    let store = try SQLiteStorage(path: path)
    if options.template == nil {
        for index in 0..<options.entries {
            let (key, url) = entry(index)
            try await store.setURL(url, forKey: key)
        }
    }
    let elapsed = try await runStore(store, set: set, entries: options.entries, ops: options.ops)
    try await store.close()
    report(options.workload, backend: "sqlite", entries: options.entries, ops: options.ops,
           rate: ("ops_per_s", Double(options.ops) / elapsed))
}

/// `sqlite-get-direct`: the gets of `sqlite-get`, from a fresh copy of the
/// same template, through SQLite's C API alone.
func sqliteDirectWorkload(_ options: Options) {
    guard options.entries > 0 else { fail("a get workload needs --entries > 0") }
    let path = sqliteCopy(options, "direct.sqlite")
    let seconds = directGets(path: path, entries: options.entries, ops: options.ops)
    report(options.workload, backend: "sqlite-c-api", entries: options.entries, ops: options.ops,
           rate: ("ops_per_s", Double(options.ops) / seconds))
}

/// Times `ops` gets of the keys ``runStore(_:set:entries:ops:)`` reads, in
/// the same order, through SQLite's C API on one connection to the file at
/// `path`, set up as the store's connections are (no busy wait,
/// `synchronous = NORMAL`, the store's statement), each URL made a `String`:
/// the look-up with nothing of swift-tus around it. Synchronous, on this
/// thread: it measures SQLite, not a way of calling it.
func directGets(path: String, entries: Int, ops: Int) -> Double {
    var handle: OpaquePointer?
    guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK, let db = handle else {
        fail("cannot open \(path) with SQLite's C API")
    }
    defer { sqlite3_close_v2(db) }
    var statement: OpaquePointer?
    guard sqlite3_exec(db, "PRAGMA synchronous = NORMAL", nil, nil, nil) == SQLITE_OK,
          sqlite3_prepare_v3(db, UploadTableSQL.select, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK,
          let select = statement
    else { fail("cannot prepare the store's select on \(path): \(String(cString: sqlite3_errmsg(db)))") }
    defer { sqlite3_finalize(select) }
    let keys = (0..<ops).map { entry(($0 &* 7919) % entries).key }
    // SQLITE_TRANSIENT ("copy the bytes now"), a macro Swift does not import.
    let copyNow = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
    var found = 0
    let start = DispatchTime.now().uptimeNanoseconds
    for key in keys {
        let bound = key.withCString { sqlite3_bind_text(select, 1, $0, -1, copyNow) }
        guard bound == SQLITE_OK else { fail("cannot bind a key: \(String(cString: sqlite3_errmsg(db)))") }
        if sqlite3_step(select) == SQLITE_ROW, let text = sqlite3_column_text(select, 0) {
            let url = String(cString: text)
            if !url.isEmpty { found += 1 }
        }
        sqlite3_reset(select)
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    if found != ops { fail("SQLite's C API found only \(found) of \(ops) keys") }
    return seconds
}

/// A fresh copy of the `--template` store (or a new empty file), flushed
/// to disk before anything is timed.
func sqliteCopy(_ options: Options, _ name: String) -> String {
    let path = freshPath(options, name)
    if let template = options.template {
        // Filling a million entries one autocommit at a time would take minutes.
        do { try FileManager.default.copyItem(atPath: template, toPath: path) } catch { fail("cannot copy \(template): \(error)") }
        // Flush the copy now, or the store's first checkpoint would pay for
        // writing all of it to disk inside the timed part.
        let copy = open(path, O_RDONLY)
        guard copy != -1, fsync(copy) == 0 else { fail("cannot flush \(path)") }
        close(copy)
    }
    return path
}

/// The SQLite store's table and statements, as `SQLiteStorage` (schema
/// version 2) and `references/stores.py` have them.
enum UploadTableSQL {
    static let schema = """
        CREATE TABLE tus_uploads (key TEXT PRIMARY KEY NOT NULL, url TEXT NOT NULL, stored_at REAL NOT NULL) WITHOUT ROWID;
        CREATE INDEX tus_uploads_stored_at ON tus_uploads (stored_at);
        PRAGMA user_version = 2;
        """
    static let upsert = """
        INSERT INTO tus_uploads (key, url, stored_at) VALUES (?1, ?2, ?3) \
        ON CONFLICT (key) DO UPDATE SET url = excluded.url, stored_at = excluded.stored_at
        """
    static let select = "SELECT url FROM tus_uploads WHERE key = ?1"
}

/// The same gets and sets through GRDB: a `DatabaseQueue` (one connection,
/// its own serial queue) in WAL mode with `synchronous = NORMAL`, a set one
/// `write` (GRDB's transaction around the upsert), a get one `read` (GRDB's
/// read-only transaction around the select), both with GRDB's cached
/// statements, awaited from the caller's task as the store's calls are.
func grdbWorkload(_ options: Options, set: Bool) async throws {
    let path = sqliteCopy(options, "grdb.sqlite")
    var configuration = Configuration()
    configuration.prepareDatabase { db in
        try db.execute(sql: "PRAGMA synchronous = NORMAL")
    }
    let queue = try DatabaseQueue(path: path, configuration: configuration)
    try await queue.writeWithoutTransaction { db in
        if options.template == nil { try db.execute(sql: UploadTableSQL.schema) }
        try db.execute(sql: "PRAGMA journal_mode = WAL")
    }
    @Sendable func store(_ url: String, _ key: String) async throws {
        try await queue.write { db in
            try db.cachedStatement(sql: UploadTableSQL.upsert).execute(arguments: [key, url, Date().timeIntervalSince1970])
        }
    }
    if options.template == nil {
        for index in 0..<options.entries {
            let (key, url) = entry(index)
            try await store(url, key)
        }
    }
    let elapsed: Double
    if set {
        let fresh = (0..<options.ops).map { entry(options.entries + $0) }
        elapsed = try await timed {
            for (key, url) in fresh { try await store(url, key) }
        }
    } else {
        guard options.entries > 0 else { fail("a get workload needs --entries > 0") }
        let keys = (0..<options.ops).map { entry(($0 &* 7919) % options.entries).key }
        var found = 0
        elapsed = try await timed {
            for key in keys {
                let url = try await queue.read { db in
                    try String.fetchOne(db.cachedStatement(sql: UploadTableSQL.select), arguments: [key])
                }
                if url != nil { found += 1 }
            }
        }
        if found != options.ops { fail("only \(found) of \(options.ops) keys were found") }
    }
    try queue.close()
    report(options.workload, backend: "grdb", entries: options.entries, ops: options.ops,
           rate: ("ops_per_s", Double(options.ops) / elapsed))
}

func redisWorkload(_ options: Options, set: Bool) async throws {
    guard let url = options.url else { fail("\(options.workload) needs --url") }
    var configuration = try RedisStorage.Configuration(url: url)
    // A prefix of its own, so that runs never see each other's keys.
    configuration.keyPrefix = "tus-bench:\(getpid()):\(Int(Date().timeIntervalSince1970 * 1000)):"
    let store = try RedisStorage(configuration: configuration)
    let run = {
        try await store.connect()
        for index in 0..<options.entries {
            let (key, url) = entry(index)
            try await store.setURL(url, forKey: key)
        }
        let elapsed = try await runStore(store, set: set, entries: options.entries, ops: options.ops)
        // Leave the server as it was (not timed).
        for stored in try await store.entries() { try await store.removeURL(forKey: stored.key) }
        return elapsed
    }
    let elapsed = options.callers == "store"
        ? try await withTaskExecutorPreference(store.taskExecutor, operation: run)
        : try await run()
    try await store.close()
    report(options.workload, backend: options.callers == "store" ? "redis" : "redis-from-pool", entries: options.entries, ops: options.ops,
           rate: ("ops_per_s", Double(options.ops) / elapsed))
}

// MARK: Fingerprint workloads

func fileSize(_ path: String) -> Int {
    let attributes = try? FileManager.default.attributesOfItem(atPath: path)
    guard let size = (attributes?[.size] as? NSNumber)?.intValue else { fail("cannot read \(path)") }
    return size
}

func md5Workload(_ options: Options) async throws {
    guard let file = options.file else { fail("md5-fingerprint needs --file") }
    let fingerprint = MD5Fingerprint()
    _ = try fingerprint.fingerprint(ofFileAtPath: file)  // warm the page cache
    var last = ""
    let elapsed = try await timed {
        for _ in 0..<options.ops { last = try fingerprint.fingerprint(ofFileAtPath: file) }
    }
    guard last.hasPrefix("size:") else { fail("unexpected fingerprint \(last)") }
    // The same hash of the first block from memory, without opening or reading
    // the file: what the hashing alone allows.
    guard let head = FileHandle(forReadingAtPath: file), let block = try head.read(upToCount: FingerprintScope.firstBlockSize)
    else { fail("cannot read \(file)") }
    try head.close()
    let hashing = try await timed {
        for _ in 0..<options.ops { last = try fingerprint.fingerprint(of: block) }
    }
    report(options.workload, backend: "md5", entries: 0, ops: options.ops,
           rate: ("ops_per_s", Double(options.ops) / elapsed),
           extra: ["file_bytes": fileSize(file), "in_memory_ops_per_s": Int(Double(options.ops) / hashing)])
}

func sha256Workload(_ options: Options) async throws {
    guard let file = options.file else { fail("sha256-whole needs --file") }
    let size = fileSize(file)
    let fingerprint = SHA256Fingerprint(scope: .wholeFile)
    var last = ""
    let elapsed = try await timed {
        for _ in 0..<options.ops { last = try fingerprint.fingerprint(ofFileAtPath: file) }
    }
    guard last.hasPrefix("size:") else { fail("unexpected fingerprint \(last)") }
    report(options.workload, backend: "sha256", entries: 0, ops: options.ops,
           rate: ("bytes_per_s", Double(size) * Double(options.ops) / elapsed), extra: ["file_bytes": size])
}

// MARK: Main

// Timing a debug build would measure the compiler's settings, not the code.
var isDebugBuild = false
assert({ isDebugBuild = true; return true }())
if isDebugBuild {
    fail("measure a release build: swift build -c release --package-path Benchmarks (or run Benchmarks/compare)")
}

var options = parseOptions()
do {
    switch options.workload {
    case "json-set": try await jsonWorkload(options, set: true)
    case "json-get": try await jsonWorkload(options, set: false)
    case "sqlite-set": try await sqliteWorkload(options, set: true)
    case "sqlite-get": try await sqliteWorkload(options, set: false)
    case "sqlite-get-direct": sqliteDirectWorkload(options)
    case "grdb-set": try await grdbWorkload(options, set: true)
    case "grdb-get": try await grdbWorkload(options, set: false)
    case "redis-set": try await redisWorkload(options, set: true)
    case "redis-get": try await redisWorkload(options, set: false)
    case "md5-fingerprint": try await md5Workload(options)
    case "sha256-whole":
        if !CommandLine.arguments.contains("--ops") { options.ops = 1 }
        try await sha256Workload(options)
    default: usage()
    }
} catch {
    fail("\(options.workload): \(error)")
}
