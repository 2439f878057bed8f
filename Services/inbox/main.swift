// inbox — the caseworkers' API, the tenant admin API, the citizen-reply consumer and retention.
import InboxService
import ServiceRuntime

await ServiceRuntime.main(serviceName: "inbox", defaultPort: 8082) { runtime in
    try await InboxService.makeServices(runtime)
}
