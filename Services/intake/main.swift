// intake — the front door for form systems: POST /v1/applications and the status resource.
import IntakeService
import ServiceRuntime

await ServiceRuntime.main(serviceName: "intake", defaultPort: 8081) { runtime in
    try await IntakeService.makeServices(runtime)
}
