// The benchmark's subject: the real service runtime (router with metrics, JSON-lines logger,
// operational routes) serving one small JSON endpoint.
// GET /hello → {"message":"Hello, world!"}
// Reads HTTP_HOST/HTTP_PORT/DATABASE_URL like every service; LOG_LEVEL=warning keeps the log quiet.
import HTTPServer
import ServiceRuntime

struct Greeting: Encodable, Sendable {
    let message: String
}

/// Built outside top-level code so nothing here is main-actor isolated.
func makeServices(_ runtime: ServiceRuntime) -> [any Service] {
    var router = runtime.makeRouter()
    router.get("/hello") { _ in try .json(Greeting(message: "Hello, world!")) }
    return [runtime.httpService(router: router, readiness: { .ready })]
}

await ServiceRuntime.main(serviceName: "http-bench-server", defaultPort: 8090) { runtime in
    makeServices(runtime)
}
