// servicekonto-bridge — the back channel: delivers citizen-outbox messages to the citizen
// postbox and queues the applicants' replies on citizen-reply (port 8085).
import ServiceRuntime
import ServicekontoBridge

await ServiceRuntime.main(serviceName: "servicekonto-bridge", defaultPort: 8085) { runtime in
    try await BridgeService.makeServices(runtime)
}
