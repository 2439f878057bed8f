// A service process for the SIGTERM test: the real runtime with one slow route.
// GET /slow/:ms answers after the given milliseconds.
import HTTPServer
import ServiceRuntime

/// Built outside top-level code so nothing here is main-actor isolated.
func makeServices(_ runtime: ServiceRuntime) -> [any Service] {
    var router = runtime.makeRouter()
    router.get("/slow/:ms") { context in
        let milliseconds = try context.intParameter("ms")
        try await Task.sleep(for: .milliseconds(milliseconds))
        return .text("finished after \(milliseconds) ms")
    }
    return [runtime.httpService(router: router, readiness: { .ready })]
}

await ServiceRuntime.main(serviceName: "http-shutdown-fixture", defaultPort: 0) { runtime in
    makeServices(runtime)
}
