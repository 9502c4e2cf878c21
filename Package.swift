// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "swift-tus",
    platforms: [.macOS(.v13), .iOS(.v16), .tvOS(.v16), .watchOS(.v9)],
    products: [
        .library(name: "TusCore", targets: ["TusCore"]),
        .library(name: "TusFingerprints", targets: ["TusFingerprints"]),
        .library(name: "TusFileStorage", targets: ["TusFileStorage"]),
        .library(name: "TusStorageTesting", targets: ["TusStorageTesting"]),
        .executable(name: "tus", targets: ["tus"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .target(name: "TusCore"),
        .target(
            name: "TusFingerprints",
            dependencies: ["TusCore", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(name: "CTusFileLock"),
        .target(name: "TusFileStorage", dependencies: ["TusCore", "CTusFileLock"]),
        .target(name: "TusStorageTesting", dependencies: ["TusCore"]),
        .executableTarget(
            name: "tus",
            dependencies: [
                "TusCore",
                "TusFingerprints",
                "TusFileStorage",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "TusCoreTests", dependencies: ["TusCore"]),
        .testTarget(name: "TusFingerprintsTests", dependencies: ["TusFingerprints"]),
        .testTarget(
            name: "TusFileStorageTests",
            dependencies: ["TusFileStorage", "TusFingerprints", "TusStorageTesting"]
        ),
        .testTarget(name: "TusCLITests", dependencies: ["TusCore"]),
    ]
)

// Settings shared by every target.
for target in package.targets {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    target.swiftSettings = settings
}
