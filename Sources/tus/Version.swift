/// The version of swift-tus, as `tus --version` prints it.
///
/// This is the one place the version is written: a release changes it here
/// and tags its commit with it. The README's and the guides'
/// `.package(url: …, from: "…")` lines are checked against it by the tests
/// (`Tests/TusCLITests/ReadmeTests.swift`).
let swiftTusVersion = "0.1.0"
