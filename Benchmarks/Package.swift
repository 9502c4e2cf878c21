// swift-tools-version:6.0
import PackageDescription

// Benchmarks for swift-tus. A separate package so that users of the library never build it:
// `swift build -c release --package-path Benchmarks`, or run `Benchmarks/compare`.
let package = Package(
    name: "swift-tus-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "swift-tus", path: ".."),
        // Only for the benchmarks' Swift anchor beside the Python one for
        // SQLite: the same gets and sets through GRDB's DatabaseQueue.
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        .executableTarget(
            name: "tus-bench",
            dependencies: [
                .product(name: "TusCore", package: "swift-tus"),
                .product(name: "TusFileStorage", package: "swift-tus"),
                .product(name: "TusSQLiteStorage", package: "swift-tus"),
                .product(name: "TusRedisStorage", package: "swift-tus"),
                .product(name: "TusFingerprints", package: "swift-tus"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: [
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("InternalImportsByDefault"),
            ]
        ),
    ]
)
