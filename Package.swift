// swift-tools-version:6.2
import PackageDescription

/// Settings every Swift target of ours shares (STYLE.md §2): warnings are errors, and the upcoming
/// features that keep C types from leaking across module boundaries.
let strict: [SwiftSetting] = [
    .treatAllWarnings(as: .error),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")

let package = Package(
    name: "webhookd",
    products: [
        .executable(name: "webhookd", targets: ["webhookd"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // /metrics (SPEC "Admin listener"): the swift-metrics API, rendered by swift-prometheus. Receiver only.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C libraries: headers and link lines only, plus macro shims (STYLE.md §1.1).
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CLinux"),

        // Our modules, in dependency order (ARCHITECTURE.md).
        .target(name: "Bytes", swiftSettings: strict),
        .target(name: "Posix", dependencies: ["CLinux"], swiftSettings: strict),
        .target(name: "TLS", dependencies: ["COpenSSL", "Bytes"], swiftSettings: strict),
        .target(name: "HTTP1", dependencies: ["Bytes"], swiftSettings: strict),
        .target(name: "Postgres", dependencies: ["CLibPQ", logging], swiftSettings: strict),
        .target(name: "Admin", dependencies: ["Posix", "HTTP1", logging], swiftSettings: strict),
        .target(
            name: "Receiver",
            dependencies: [
                "Bytes", "Posix", "TLS", "HTTP1", "Postgres", "Admin", "CLinux", logging,
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Operations", dependencies: ["Receiver", "Posix", "Postgres", "HTTP1", "Bytes"], swiftSettings: strict
        ),
        .executableTarget(
            name: "webhookd",
            dependencies: [
                "Operations", "Receiver", "Posix", "TLS", "Postgres", logging,
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),

        // Test support: per-run PKI, the PostgreSQL fixture, TLS clients, subprocess helpers.
        .target(
            name: "TestSupport",
            dependencies: ["CLinux", "Posix", "TLS", "Postgres", "Receiver", logging],
            path: "Tests/TestSupport",
            swiftSettings: strict
        ),
        .testTarget(name: "BytesTests", dependencies: ["Bytes"], swiftSettings: strict),
        .testTarget(name: "PosixTests", dependencies: ["Posix"], swiftSettings: strict),
        .testTarget(name: "AdminTests", dependencies: ["Admin", "HTTP1"], swiftSettings: strict),
        .testTarget(name: "HTTP1Tests", dependencies: ["HTTP1"], swiftSettings: strict),
        .testTarget(name: "TLSTests", dependencies: ["TLS", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "ReceiverTests",
            dependencies: ["Receiver", "TLS", "Postgres", "HTTP1", "TestSupport", logging],
            swiftSettings: strict
        ),
        .testTarget(
            name: "OperationsTests", dependencies: ["Operations", "Postgres", "TestSupport"], swiftSettings: strict),
        // The binary as users and scripts run it: one subprocess per command.
        .testTarget(
            name: "CommandTests", dependencies: ["Operations", "Postgres", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["Receiver", "Operations", "TLS", "Postgres", "TestSupport"],
            swiftSettings: strict
        ),
    ]
)
