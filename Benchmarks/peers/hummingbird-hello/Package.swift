// swift-tools-version:6.0
// Hummingbird 2 hello-world peer for Benchmarks/http/run.sh. Not part of the product and not
// built by CI: the product has no package dependencies; this peer exists only to compare against.
import PackageDescription

let package = Package(
    name: "hummingbird-hello",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        .executableTarget(
            name: "hummingbird-hello",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            path: "Sources"
        ),
    ],
    swiftLanguageModes: [.v6]
)
