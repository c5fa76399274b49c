// swift-tools-version:5.9
// The Groundwork Swift package: the generated bindings (Generated/, checked in CI against a fresh
// generation) over the Rust library packaged as an XCFramework (build-xcframework.sh), and a thin
// Swift layer adding AsyncStream observers. Not built in this project's CI: there is no Swift
// toolchain there (see ../README.md).
import PackageDescription

let package = Package(
    name: "Groundwork",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "Groundwork", targets: ["Groundwork"]),
    ],
    targets: [
        // The Rust static library with its C header and module map (module GroundworkFFIFFI).
        .binaryTarget(name: "GroundworkFFIFFI", path: "build/GroundworkFFI.xcframework"),
        // The generated Swift bindings.
        .target(
            name: "GroundworkFFI",
            dependencies: ["GroundworkFFIFFI"],
            path: "Generated",
            exclude: ["GroundworkFFIFFI.h", "GroundworkFFIFFI.modulemap"],
            sources: ["GroundworkFFI.swift"]
        ),
        .target(name: "Groundwork", dependencies: ["GroundworkFFI"], path: "Sources/Groundwork"),
        .testTarget(name: "GroundworkTests", dependencies: ["Groundwork"], path: "Tests/GroundworkTests"),
    ]
)
