// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "swift-tus",
    platforms: [.macOS(.v13), .iOS(.v16), .tvOS(.v16), .watchOS(.v9)],
    products: [
        .library(name: "TusCore", targets: ["TusCore"]),
        .library(name: "TusFingerprints", targets: ["TusFingerprints"]),
        .library(name: "TusFileStorage", targets: ["TusFileStorage"]),
        .library(name: "TusSQLiteStorage", targets: ["TusSQLiteStorage"]),
        .library(name: "TusRedisStorage", targets: ["TusRedisStorage"]),
        .library(name: "TusStorageTesting", targets: ["TusStorageTesting"]),
        .library(name: "TusClient", targets: ["TusClient"]),
        .library(name: "TusDevServer", targets: ["TusDevServer"]),
        .executable(name: "tus", targets: ["tus"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // The IETF draft's structured header fields (Upload-Complete, Upload-Limit, …).
        .package(url: "https://github.com/apple/swift-http-structured-headers", from: "1.7.0"),
        // Apple's server of the IETF draft (NIOResumableUpload) and the
        // HTTP types it speaks, for the tests only.
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        // `swift package generate-documentation`: the DocC catalogs in Sources/<Target>/<Target>.docc.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // Core: the protocols, the error type and the fingerprint API,
        // Foundation only.
        .target(name: "TusCore", dependencies: ["TusThreads"]),

        // Plumbing, not products: the threads that run blocking work for
        // async callers (the stores, the background fingerprints), and what
        // the file stores share (their paths, the disk errors they explain).
        .target(name: "TusThreads"),
        .target(name: "TusStoreSupport", dependencies: ["TusCore"]),

        // Fingerprints.
        .target(
            name: "TusFingerprints",
            dependencies: ["TusCore", .product(name: "Crypto", package: "swift-crypto")]
        ),

        // The JSON file store.
        .target(name: "CTusFileLock"),
        .target(
            name: "TusFileStorage",
            dependencies: ["TusCore", "TusStoreSupport", "TusThreads", "CTusFileLock", .product(name: "Logging", package: "swift-log")]
        ),

        // The SQLite store, over the system's libsqlite3.
        .systemLibrary(
            name: "CTusSQLite",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),
        .target(
            name: "TusSQLiteStorage",
            dependencies: ["TusCore", "TusStoreSupport", "TusThreads", "CTusSQLite", .product(name: "Logging", package: "swift-log")]
        ),

        // The Redis store, over the system's hiredis.
        .systemLibrary(
            name: "CTusHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"]), .brew(["hiredis"])]
        ),
        .target(
            name: "TusRedisStorage",
            dependencies: ["TusCore", "TusThreads", "CTusHiredis", .product(name: "Logging", package: "swift-log")]
        ),

        // The conformance suite any Storage runs from its own tests.
        .target(name: "TusStorageTesting", dependencies: ["TusCore"]),

        // The tus wire format (header names, metadata, checksums, dates),
        // written once for the client and the development server, and the
        // IETF draft's (Resumable Uploads for HTTP) beside it. Not a product.
        .target(
            name: "TusProtocol",
            dependencies: [
                "TusCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "RawStructuredFieldValues", package: "swift-http-structured-headers"),
            ]
        ),

        // The tus 1.0 client.
        .target(
            name: "TusClient",
            dependencies: [
                "TusCore",
                "TusFingerprints",
                "TusProtocol",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),

        // A development tus server, for tests, the demo and the examples.
        .target(
            name: "TusDevServer",
            dependencies: [
                "TusCore",
                "TusProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),

        // The command-line tool.
        .executableTarget(
            name: "tus",
            dependencies: [
                "TusCore",
                "TusFingerprints",
                "TusFileStorage",
                "TusSQLiteStorage",
                "TusRedisStorage",
                "TusClient",
                "TusDevServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Runnable examples: `swift run <name>`.
        .target(
            name: "ExampleSupport",
            dependencies: ["TusCore", "TusDevServer"],
            path: "Examples/Support"
        ),
        .executableTarget(
            name: "managing-stored-urls",
            dependencies: ["TusCore", "TusFileStorage", "TusFingerprints"],
            path: "Examples/ManagingStoredURLs"
        ),
        .executableTarget(
            name: "basic-upload",
            dependencies: ["TusCore", "TusClient", "TusFileStorage", "TusDevServer", "ExampleSupport"],
            path: "Examples/BasicUpload"
        ),
        .executableTarget(
            name: "resume-upload",
            dependencies: ["TusCore", "TusClient", "TusFileStorage", "TusDevServer", "ExampleSupport"],
            path: "Examples/ResumeUpload"
        ),
        .target(
            name: "RedisURLStorageExample",
            dependencies: ["TusCore"],
            path: "Examples/CustomStorage/Store"
        ),
        .executableTarget(
            name: "custom-storage",
            dependencies: ["TusCore", "TusClient", "TusDevServer", "RedisURLStorageExample", "ExampleSupport"],
            path: "Examples/CustomStorage/App"
        ),
        .executableTarget(
            name: "custom-fingerprint",
            dependencies: [
                "TusCore", "TusClient", "TusFileStorage", "TusDevServer", "ExampleSupport",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Examples/CustomFingerprint"
        ),

        // The Swift code blocks of the README, Docs/, the DocC catalogs and the
        // public doc comments, compiled: scripts/doc-snippets writes one file per
        // block into Tests/DocSnippets/Generated/ (not committed), so a change of
        // API that breaks a block breaks the build. Nothing runs them.
        .target(
            name: "DocSnippets",
            dependencies: [
                "TusCore", "TusFingerprints", "TusFileStorage", "TusSQLiteStorage", "TusRedisStorage",
                "TusStorageTesting", "TusClient", "TusDevServer", "RedisURLStorageExample",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            path: "Tests/DocSnippets"
        ),

        // Helpers shared by the tests: temporary folders, running processes.
        .target(
            name: "TusTestSupport",
            dependencies: [
                "TusDevServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/TusTestSupport"
        ),
        // The network fixtures themselves (relay, nginx, tinyproxy, certificates).
        .testTarget(
            name: "TusTestSupportTests",
            dependencies: [
                "TusTestSupport",
                "TusDevServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The tests' relay as a process, for Benchmarks/compare.
        .executableTarget(name: "test-relay", dependencies: ["TusTestSupport"], path: "Tests/RelayCommand"),
        // Apple's server of the IETF draft (NIOResumableUpload) writing
        // uploads to files, for the tests (TusTestSupport's
        // NIOResumableUploadServer starts it). Not a product.
        .executableTarget(
            name: "nio-resumable-upload-server",
            dependencies: [
                .product(name: "NIOResumableUpload", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Tests/NIOResumableUploadServer"
        ),
        .testTarget(name: "TusCoreTests", dependencies: ["TusCore", "TusStorageTesting"]),
        .testTarget(name: "TusThreadsTests", dependencies: ["TusThreads", "TusTestSupport"]),
        .testTarget(name: "TusFingerprintsTests", dependencies: ["TusFingerprints", "TusTestSupport"]),
        .testTarget(
            name: "TusFileStorageTests",
            dependencies: ["TusFileStorage", "TusSQLiteStorage", "TusFingerprints", "TusStorageTesting", "TusTestSupport", .product(name: "InMemoryLogging", package: "swift-log")]
        ),
        .testTarget(name: "TusInteropTests", dependencies: ["TusFileStorage", "TusFingerprints", "TusTestSupport"]),
        .testTarget(
            name: "TusSQLiteStorageTests",
            dependencies: ["TusSQLiteStorage", "TusStorageTesting", "TusTestSupport", .product(name: "InMemoryLogging", package: "swift-log")]
        ),
        .testTarget(
            name: "TusRedisStorageTests",
            dependencies: [
                "TusRedisStorage", "TusStorageTesting", "TusTestSupport",
                .product(name: "InMemoryLogging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "TusProtocolTests", dependencies: ["TusProtocol"]),
        .testTarget(
            name: "TusDevServerTests",
            dependencies: [
                "TusDevServer", "TusTestSupport", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "ExampleStoreTests",
            dependencies: ["RedisURLStorageExample", "TusStorageTesting"]
        ),
        .testTarget(
            name: "TusClientTests",
            dependencies: [
                "TusClient", "TusDevServer", "TusFileStorage", "TusSQLiteStorage", "TusRedisStorage",
                "TusFingerprints", "TusTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ]
        ),
        .testTarget(
            name: "TusCLITests",
            dependencies: ["TusFileStorage", "TusSQLiteStorage", "TusFingerprints", "TusDevServer", "TusTestSupport"]
        ),
    ]
)

// Settings shared by every Swift target.
for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    target.swiftSettings = settings
}
