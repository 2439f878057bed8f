// amtsweg — the operator CLI: migrations, tenants, services, areas, caseworkers, tokens, intake
// clients and dead letters. Run `amtsweg help` for usage.
#if canImport(Glibc)
import Glibc
#endif

exit(await CLI.run(Array(CommandLine.arguments.dropFirst())))
