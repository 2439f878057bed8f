import HTTPServer

/// Runs an ``HTTPServer`` as a ``Service``: starts it, and on shutdown stops accepting and lets
/// in-flight requests finish (within the server's own grace period).
public struct HTTPService: Service {
    public let name: String
    public let server: HTTPServer

    public init(server: HTTPServer, name: String = "http") {
        self.server = server
        self.name = name
    }

    public func run(shutdown: ShutdownSignal) async throws {
        if server.port == nil { try server.start() }
        await shutdown.wait()
        await server.shutdown()
    }
}
