// swift-tools-version:6.0
// Amtsweg — back office for municipal e-government portals.
// No package dependencies: only the toolchain and system C libraries.
import PackageDescription

let package = Package(
    name: "Amtsweg",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "queue-bench", targets: ["QueueBench"]),
        .executable(name: "amtsweg", targets: ["amtsweg"]),
        .executable(name: "intake", targets: ["intake"]),
        .executable(name: "servicekonto-bridge", targets: ["servicekonto-bridge"]),
        .executable(name: "servicekonto-sandbox", targets: ["servicekonto-sandbox"]),
        .executable(name: "inbox", targets: ["inbox"]),
        .executable(name: "notification", targets: ["notification"]),
        .executable(name: "routing", targets: ["routing"]),
        .executable(name: "routing-bench", targets: ["routing-bench"]),
    ],
    targets: [
        // MARK: System libraries
        .systemLibrary(
            name: "CLibPQ",
            path: "Shared/CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CLibCurl",
            path: "Shared/CLibCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),

        // MARK: Build tools
        // Compiles the files a target lists in its `embedded-files.txt` into it as String constants
        // (see Plugins/EmbedFiles/EmbedFiles.swift).
        .plugin(name: "EmbedFiles", capability: .buildTool(), dependencies: ["embed-file"], path: "Plugins/EmbedFiles"),
        .executableTarget(name: "embed-file", path: "Plugins/embed-file"),

        // MARK: Shared libraries
        .target(name: "Logging", path: "Shared/Logging"),
        .target(name: "Threads", path: "Shared/Threads"),
        // A claimed job's local deadline, checked by outside-effect code at its point of no return.
        // No dependencies.
        .target(name: "Lease", path: "Shared/Lease"),
        .target(name: "Metrics", path: "Shared/Metrics"),
        .target(name: "Digest", path: "Shared/Digest"),
        .target(name: "Postgres", dependencies: ["Threads", "CLibPQ", "Logging"], path: "Shared/Postgres"),
        .target(name: "Schema", dependencies: ["Postgres", "Logging"], path: "Shared/Schema"),
        .target(name: "JobQueue", dependencies: ["Lease", "Postgres", "Logging", "Metrics"], path: "Shared/JobQueue"),
        .target(name: "CEpoll", path: "Shared/CEpoll"),
        .target(name: "HTTPServer", dependencies: ["CEpoll", "Logging", "Metrics"], path: "Shared/HTTPServer"),
        .target(name: "ServiceRuntime", dependencies: ["HTTPServer", "Logging", "Metrics"], path: "Shared/ServiceRuntime"),
        // What every executable wires the same way: its database (pools, notifier, listener,
        // migrations, readiness, queue figures) and its queue consumers.
        .target(
            name: "ServiceWiring", dependencies: ["ServiceRuntime", "HTTPServer", "Postgres", "Schema", "JobQueue", "Logging"],
            path: "Shared/ServiceWiring"
        ),
        .target(
            name: "CCurlShim", dependencies: ["CLibCurl"], path: "Shared/CCurlShim",
            linkerSettings: [.linkedLibrary("curl")]
        ),
        // Kinds of tenant texts, their placeholders and German defaults, and the placeholder syntax:
        // one catalog for the admin store and the senders. No dependencies.
        .target(name: "NotificationTemplates", path: "Shared/NotificationTemplates"),
        .target(name: "Mail", dependencies: ["Lease", "Threads", "Digest", "CCurlShim", "ServiceRuntime", "NotificationTemplates"], path: "Shared/Mail"),
        .target(
            name: "CCurlHTTP", dependencies: ["CLibCurl"], path: "Shared/CCurlHTTP",
            linkerSettings: [.linkedLibrary("curl")]
        ),
        .target(name: "HTTPClient", dependencies: ["Lease", "Threads", "CCurlHTTP"], path: "Shared/HTTPClient"),
        .target(name: "Servicekonto", dependencies: ["Lease", "HTTPClient", "Digest"], path: "Shared/Servicekonto"),
        .target(name: "Domain", dependencies: ["Postgres", "Logging", "Digest"], path: "Shared/Domain"),
        .target(name: "QueueContracts", dependencies: ["JobQueue", "Postgres"], path: "Shared/QueueContracts"),
        .target(
            name: "ApplicationLifecycle", dependencies: ["Domain", "NotificationTemplates", "QueueContracts", "JobQueue", "Postgres", "Digest"],
            path: "Shared/ApplicationLifecycle"
        ),
        // What makes a routing rule valid and what it matches: routing's parser, which the admin store
        // uses too when rules are saved. No dependencies.
        .target(name: "RoutingRules", path: "Shared/RoutingRules"),
        .target(
            name: "Routing", dependencies: ["RoutingRules", "ApplicationLifecycle", "QueueContracts", "Domain", "JobQueue", "Postgres", "Logging", "Metrics"],
            path: "Shared/Routing"
        ),
        // The one admin store: every write of the administration and the reads the CLI and the
        // admin API share, checked with routing's rule parser and the template catalog.
        .target(
            name: "Administration",
            dependencies: ["Domain", "RoutingRules", "NotificationTemplates", "JobQueue", "Postgres"],
            path: "Shared/Administration"
        ),

        // MARK: Services
        .target(
            name: "IntakeService",
            dependencies: ["ApplicationLifecycle", "QueueContracts", "Domain", "Postgres", "JobQueue", "HTTPServer", "ServiceRuntime", "ServiceWiring", "Logging", "Metrics"],
            path: "Services/intake/Library",
            plugins: ["EmbedFiles"]  // Services/intake/openapi.yaml, served at /openapi.yaml (see embedded-files.txt)
        ),
        .executableTarget(
            name: "intake",
            dependencies: ["IntakeService", "ServiceRuntime"],
            path: "Services/intake",
            exclude: ["Library", "openapi.yaml"],
            sources: ["main.swift"]
        ),
        .target(
            name: "ServicekontoBridge",
            dependencies: ["Lease", "ApplicationLifecycle", "QueueContracts", "Servicekonto", "HTTPClient", "Domain", "Postgres", "JobQueue", "HTTPServer", "ServiceRuntime", "ServiceWiring", "Logging", "Metrics"],
            path: "Services/servicekonto-bridge/Library"
        ),
        .executableTarget(
            name: "servicekonto-bridge",
            dependencies: ["ServicekontoBridge", "ServiceRuntime"],
            path: "Services/servicekonto-bridge",
            exclude: ["Library", "servicekonto-contract.yaml", "README.md"],
            sources: ["main.swift"]
        ),
        .target(
            name: "ServicekontoSandbox",
            dependencies: ["Servicekonto", "HTTPServer", "ServiceRuntime", "Logging"],
            path: "Services/servicekonto-sandbox/Library"
        ),
        .executableTarget(
            name: "servicekonto-sandbox",
            dependencies: ["ServicekontoSandbox", "ServiceRuntime"],
            path: "Services/servicekonto-sandbox",
            exclude: ["Library"],
            sources: ["main.swift"]
        ),
        .executableTarget(
            name: "routing",
            dependencies: ["Routing", "JobQueue", "ServiceRuntime", "ServiceWiring"],
            path: "Services/routing"
        ),
        .target(
            name: "InboxService",
            dependencies: ["ApplicationLifecycle", "QueueContracts", "Administration", "RoutingRules", "Domain", "Postgres", "JobQueue", "HTTPServer", "ServiceRuntime", "ServiceWiring", "Logging", "Metrics"],
            path: "Services/inbox/Library",
            plugins: ["EmbedFiles"]  // Services/inbox/openapi.yaml, served at /openapi.yaml (see embedded-files.txt)
        ),
        .executableTarget(
            name: "inbox",
            dependencies: ["InboxService", "ServiceRuntime"],
            path: "Services/inbox",
            exclude: ["Library", "openapi.yaml"],
            sources: ["main.swift"]
        ),
        .executableTarget(
            name: "amtsweg",
            dependencies: ["Administration", "RoutingRules", "Domain", "Postgres", "Schema", "JobQueue", "Logging", "ServiceRuntime", "ServiceWiring"],
            path: "Services/amtsweg"
        ),
        .target(
            name: "NotificationService",
            dependencies: ["Lease", "QueueContracts", "Mail", "JobQueue", "Postgres", "ServiceRuntime", "ServiceWiring", "Logging", "Metrics"],
            path: "Services/notification/Library"
        ),
        .executableTarget(
            name: "notification",
            dependencies: ["NotificationService", "ServiceRuntime"],
            path: "Services/notification",
            exclude: ["Library"],
            sources: ["main.swift"]
        ),

        // MARK: Benchmarks (commands, not tests)
        .executableTarget(
            name: "QueueBench",
            dependencies: ["Postgres", "Schema", "JobQueue", "Logging", "TestSupport"],
            path: "Benchmarks/QueueBench"
        ),

        .executableTarget(
            name: "routing-bench",
            dependencies: ["QueueContracts", "Routing", "Domain", "Postgres", "Schema", "JobQueue", "Logging", "Metrics", "TestSupport"],
            path: "Benchmarks/routing",
            exclude: ["run.sh"]
        ),
        .executableTarget(
            name: "bridge-bench",
            dependencies: ["QueueContracts", "ServicekontoBridge", "ServicekontoSandbox", "Servicekonto", "HTTPServer", "JobQueue", "Postgres", "Logging", "Metrics", "TestSupport"],
            path: "Benchmarks/bridge"
        ),

        .executableTarget(
            name: "inbox-bench",
            dependencies: ["QueueContracts", "InboxService", "Administration", "Domain", "Postgres", "HTTPServer", "JobQueue", "Logging", "TestSupport"],
            path: "Benchmarks/inbox",
            exclude: ["run.sh"]
        ),
        .executableTarget(
            name: "intake-bench",
            dependencies: ["Administration", "Domain", "Postgres", "TestSupport"],
            path: "Benchmarks/intake"
        ),

        .executableTarget(
            name: "mail-bench",
            dependencies: ["Mail"],
            path: "Benchmarks/MailBench"
        ),

        .executableTarget(
            name: "notification-bench",
            dependencies: ["QueueContracts", "NotificationService", "Mail", "JobQueue", "Postgres", "Metrics", "Logging", "ServiceRuntime", "TestSupport"],
            path: "Benchmarks/NotificationBench"
        ),

        .executableTarget(
            name: "system-bench",
            dependencies: ["SystemTestSupport", "MailTestSupport", "HTTPTestSupport", "HTTPClient", "Postgres"],
            path: "Benchmarks/system",
            exclude: ["run.sh"]
        ),

        .executableTarget(
            name: "http-bench-server",
            dependencies: ["HTTPServer", "ServiceRuntime"],
            path: "Benchmarks/http/Server"
        ),

        // MARK: Test support
        .target(name: "TestSupport", dependencies: ["Postgres", "Schema", "Logging", "HTTPTestSupport"], path: "Tests/TestSupport"),
        .target(name: "HTTPTestSupport", path: "Tests/HTTPTestSupport"),
        .executableTarget(
            name: "queue-test-worker",
            dependencies: ["Postgres", "JobQueue", "Logging"],
            path: "Tests/Fixtures/QueueTestWorker"
        ),
        .executableTarget(
            name: "http-shutdown-fixture",
            dependencies: ["ServiceRuntime", "HTTPServer"],
            path: "Tests/Fixtures/HTTPShutdownFixture"
        ),
        .testTarget(
            name: "PostgresTests",
            dependencies: ["Postgres", "Schema", "TestSupport"],
            path: "Tests/PostgresTests"
        ),
        .testTarget(
            name: "JobQueueTests",
            dependencies: ["Lease", "JobQueue", "Postgres", "Schema", "TestSupport", "HTTPTestSupport", "Metrics"],
            path: "Tests/JobQueueTests"
        ),
        .testTarget(
            name: "HTTPServerTests",
            dependencies: ["HTTPServer", "Logging", "Metrics", "HTTPTestSupport"],
            path: "Tests/HTTPServerTests"
        ),
        .testTarget(
            name: "ServiceRuntimeTests",
            dependencies: ["ServiceRuntime", "HTTPServer", "Logging", "Metrics", "HTTPTestSupport"],
            path: "Tests/ServiceRuntimeTests"
        ),
        .target(name: "MailTestSupport", dependencies: ["HTTPTestSupport"], path: "Tests/MailTestSupport"),
        .testTarget(
            name: "MailTests",
            dependencies: ["Lease", "Mail", "NotificationTemplates", "ServiceRuntime", "MailTestSupport"],
            path: "Tests/MailTests"
        ),
        .testTarget(
            name: "NotificationTests",
            dependencies: ["QueueContracts", "NotificationService", "Mail", "JobQueue", "Postgres", "Schema", "ServiceRuntime", "Logging", "Metrics", "TestSupport", "MailTestSupport"],
            path: "Tests/NotificationTests"
        ),
        .testTarget(
            name: "SchemaTests",
            dependencies: ["ApplicationLifecycle", "QueueContracts", "JobQueue", "Administration", "RoutingRules", "Domain", "Postgres", "Schema", "Logging", "TestSupport"],
            path: "Tests/SchemaTests"
        ),
        .testTarget(
            name: "CLITests",
            dependencies: ["Domain", "Postgres", "TestSupport", "HTTPTestSupport", "Schema"],
            path: "Tests/CLITests"
        ),
        .testTarget(
            name: "IntakeTests",
            dependencies: ["QueueContracts", "IntakeService", "Administration", "Domain", "Postgres", "JobQueue", "HTTPServer", "Logging", "TestSupport", "HTTPTestSupport"],
            path: "Tests/IntakeTests"
        ),
        .testTarget(
            name: "RoutingTests",
            dependencies: ["ApplicationLifecycle", "QueueContracts", "Routing", "Domain", "JobQueue", "Postgres", "Schema", "Logging", "Metrics", "TestSupport", "HTTPTestSupport"],
            path: "Tests/RoutingTests"
        ),
        .testTarget(
            name: "ServicekontoBridgeTests",
            dependencies: [
                "Lease", "QueueContracts",
                "ServicekontoBridge", "ServicekontoSandbox", "Servicekonto", "HTTPClient", "HTTPServer", "JobQueue",
                "Postgres", "Schema", "Logging", "Metrics", "ServiceRuntime", "TestSupport", "HTTPTestSupport",
            ],
            path: "Tests/ServicekontoBridgeTests"
        ),
        .testTarget(
            name: "InboxTests",
            dependencies: ["ApplicationLifecycle", "QueueContracts", "InboxService", "Administration", "NotificationTemplates", "Routing", "Domain", "Postgres", "Schema", "JobQueue", "HTTPServer", "Logging", "TestSupport", "HTTPTestSupport"],
            path: "Tests/InboxTests"
        ),
        .target(
            name: "SystemTestSupport",
            dependencies: ["TestSupport", "MailTestSupport", "Postgres", "Logging", "Servicekonto", "ServicekontoSandbox"],
            path: "Tests/SystemTestSupport"
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["QueueContracts", "SystemTestSupport", "TestSupport", "MailTestSupport", "Postgres"],
            path: "Tests/EndToEndTests"
        ),
        .testTarget(
            name: "EmbedFilesTests",
            path: "Tests/EmbedFilesTests",
            exclude: ["Fixtures"],
            plugins: ["EmbedFiles"]
        ),
        .testTarget(
            name: "ServiceWiringTests",
            dependencies: ["InboxService", "NotificationService", "ServicekontoBridge", "ServiceWiring", "JobQueue", "Postgres", "Schema", "ServiceRuntime", "Logging", "Metrics", "TestSupport", "HTTPTestSupport"],
            path: "Tests/ServiceWiringTests"
        ),
        .testTarget(
            name: "MetricsTests",
            dependencies: ["Metrics"],
            path: "Tests/MetricsTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)
