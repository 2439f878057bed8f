// GET /hello → {"message":"Hello, world!"} — the same endpoint as Benchmarks/http/Server.
// Usage: hummingbird-hello PORT
import Hummingbird

struct Greeting: ResponseEncodable {
    let message: String
}

let port = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 8091
let router = Router()
router.get("/hello") { _, _ in Greeting(message: "Hello, world!") }
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
