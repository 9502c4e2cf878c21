import ArgumentParser
import Foundation
import TusClient
import TusCore

/// `tus store …`: read and change the store of upload URLs.
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Read and change the stored upload URLs.",
        discussion: """
            Every subcommand takes --store SPEC, where SPEC is \(StoreSpec.forms). \
            Without it, $\(StoreSpec.environmentVariable) is used, else \
            $XDG_STATE_HOME/tus/uploads.json (~/.local/state/tus/uploads.json).
            """,
        subcommands: [List.self, Get.self, Set.self, Remove.self, Migrate.self, Prune.self]
    )
}

/// The `--store` option every store subcommand takes.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The store to use: \(StoreSpec.forms).", valueName: "spec"))
    var store: String?

    /// Opens the store, runs `body`, and closes the store.
    func withStore<Result: Sendable>(_ body: (any ListableStorage, StoreSpec) async throws -> Result) async throws -> Result {
        try await StoreSpec(store).withStore(body)
    }
}

extension StoreSpec {
    /// Opens the store, runs `body`, and closes the store.
    func withStore<Result: Sendable>(_ body: (any ListableStorage, StoreSpec) async throws -> Result) async throws -> Result {
        let storage = try open()
        return try await withStorage(storage) { try await body($0, self) }
    }
}

extension StoreCommand {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List every stored entry as KEY<TAB>URL lines (KEY#partials<TAB>N parts: URL... for a parallel upload's parts).",
            discussion: "--json prints one JSON array of {\"key\", \"url\", \"stored_at\"} objects instead; stored_at is an ISO 8601 time, or null when unknown."
        )

        @OptionGroup var options: StoreOptions

        @Flag(help: "Print JSON instead of KEY<TAB>URL lines.")
        var json = false

        func run() async throws {
            let entries = try await options.withStore { store, _ in try await store.entries() }
            if json {
                print(try Self.json(entries))
            } else {
                for entry in entries {
                    // A parallel upload's parts: their URLs, not their JSON.
                    if let parts = PartsEntry(key: entry.key, value: entry.url) {
                        let urls = parts.parts.map { $0.url ?? "(not created yet)" }.joined(separator: " ")
                        print("\(entry.key)\t\(parts.parts.count) parts: \(urls)")
                    } else {
                        print("\(entry.key)\t\(entry.url)")
                    }
                }
            }
        }

        private struct Line: Encodable {
            var key: String
            var url: String
            var stored_at: String?
        }

        static func json(_ entries: [StoredUpload]) throws -> String {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let lines = entries.map { Line(key: $0.key, url: $0.url, stored_at: $0.storedAt.map(formatter.string(from:))) }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            return String(decoding: try encoder.encode(lines), as: UTF8.self)
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "get",
            abstract: "Print the URL stored under KEY.",
            discussion: "Exits 1 when no URL is stored under KEY, and 2 when the store cannot be read."
        )

        @OptionGroup var options: StoreOptions

        @Argument(help: "The key, usually the output of `tus fingerprint`.")
        var key: String

        func run() async throws {
            let key = self.key
            let (url, spec) = try await options.withStore { store, spec in (try await store.url(forKey: key), spec.description) }
            guard let url else {
                throw CommandFailure(message: "no URL stored under \(key.debugDescription) in \(spec)", status: ExitStatus.notFound)
            }
            print(url)
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set", abstract: "Store URL under KEY, replacing what was there.")

        @OptionGroup var options: StoreOptions

        @Argument(help: "The key, usually the output of `tus fingerprint`.")
        var key: String

        @Argument(help: "The upload URL.")
        var url: String

        func run() async throws {
            let (key, url) = (self.key, self.url)
            try await options.withStore { store, _ in try await store.setURL(url, forKey: key) }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove the URL stored under KEY; no error when there is none.")

        @OptionGroup var options: StoreOptions

        @Argument(help: "The key to forget.")
        var key: String

        func run() async throws {
            let key = self.key
            try await options.withStore { store, _ in try await store.removeURL(forKey: key) }
        }
    }

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "migrate",
            abstract: "Copy every entry of one store into another and print how many were copied.",
            discussion: """
                Entries keep their keys, URLs and stored times. An entry the destination already \
                holds with the same URL is left alone, so running the same migration twice copies \
                nothing the second time. The source is not changed.
                """
        )

        @Option(help: ArgumentHelp("The store to copy from: \(StoreSpec.forms).", valueName: "spec"))
        var from: String

        @Option(help: ArgumentHelp("The store to copy into: \(StoreSpec.forms).", valueName: "spec"))
        var to: String

        func run() async throws {
            let source = try StoreSpec(from), destination = try StoreSpec(to)
            if let path = source.filePath, !FileManager.default.fileExists(atPath: path) {
                throw CommandFailure(message: "--from \(source): \(path) does not exist")
            }
            let entries = try await source.withStore { store, _ in try await store.entries() }
            let copied = try await destination.withStore { store, _ in
                var copied = 0
                for entry in entries where try await store.url(forKey: entry.key) != entry.url {
                    try await store.setURL(entry.url, forKey: entry.key, storedAt: entry.storedAt)
                    copied += 1
                }
                return copied
            }
            print("copied \(copied) of \(countOfEntries(entries.count)) from \(source) to \(destination)")
        }
    }

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prune",
            abstract: "Remove orphaned parts entries, and with --older-than the entries stored longer ago than a duration; print how many.",
            discussion: """
                A parts entry (KEY#partials) is orphaned when KEY also holds a URL (the parts were joined \
                and a run stopped before removing them) or when it holds no list of parts. \
                DURATION is a whole number followed by s, m, h or d: 90s, 30m, 12h, 7d. Entries whose \
                stored time is unknown (written by tuspy) are kept.
                """
        )

        @OptionGroup var options: StoreOptions

        @Option(help: ArgumentHelp("Also remove entries older than this: 90s, 30m, 12h, 7d.", valueName: "duration"))
        var olderThan: DurationArgument?

        func run() async throws {
            let (old, orphans, spec) = try await options.withStore { store, spec in
                let old = if let olderThan { try await store.removeEntries(olderThan: olderThan.seconds) } else { 0 }
                let orphans = PartsEntry.orphanedKeys(in: try await store.entries())
                for key in orphans { try await store.removeURL(forKey: key) }
                return (old, orphans.count, spec.description)
            }
            if let olderThan {
                print("removed \(countOfEntries(old)) older than \(olderThan.text) from \(spec)")
            }
            if olderThan == nil || orphans > 0 {
                print("removed \(countOfEntries(orphans, kind: "orphaned parts")) from \(spec)")
            }
        }
    }
}

/// "1 entry", "2 entries".
private func countOfEntries(_ count: Int, kind: String? = nil) -> String {
    let noun = count == 1 ? "entry" : "entries"
    return "\(count) \(kind.map { "\($0) " } ?? "")\(noun)"
}
