// servicekonto-sandbox — a development and test stand-in for the citizen postbox (port 8090).
// Speaks the adapter contract of servicekonto-bridge; keeps everything in memory.
import ServiceRuntime
import ServicekontoSandbox

await ServiceRuntime.main(serviceName: "servicekonto-sandbox", defaultPort: 8090, environment: SandboxService.environment()) { runtime in
    try SandboxService.makeServices(runtime)
}
