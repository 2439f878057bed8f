import Foundation
import HTTPServer
import HTTPTestSupport
import Logging
import Testing

/// Routes that declare an authenticator decide from the head: a refused request's body is never
/// read, an admitted one's handler gets the principal, bodiless requests are authenticated too.
@Suite struct AdmissionTests {
    struct Caller: Sendable { var name: String }

    static func router(_ logger: Logger) -> Router {
        var router = Router(logger: logger)
        let authenticate: RouteAuthenticator = { head in
            guard head.headers["Authorization"] == "Bearer good" else {
                throw HTTPError(.unauthorized, code: "unauthorized", detail: "No.")
            }
            return Caller(name: "good")
        }
        router.post("/guarded", authenticate: authenticate) { context in
            .text("\(try context.principal(as: Caller.self).name) sent \(context.request.body.count)")
        }
        router.get("/guarded", authenticate: authenticate) { context in .text(try context.principal(as: Caller.self).name) }
        router.post("/open") { context in
            #expect(context.request.principal == nil)
            return .text("open \(context.request.body.count)")
        }
        return router
    }

    @Test func aRefusedRequestIsAnsweredBeforeItsBodyAndGetsNo100Continue() async throws {
        try await withServer(router: Self.router) { port in
            try await offPool {
                let client = try RawClient(port: port)
                try client.send("POST /guarded HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer bad\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n")
                let answer = try client.readResponse()
                #expect(answer.status == 401, "no 100 Continue, straight the refusal: \(answer.status)")
                #expect(answer.header("Connection") == "close")
                #expect(answer.header("X-Request-Id") != nil)
                #expect(client.isClosedByServer())
            }
        }
    }

    @Test func anAdmittedRequestGetsItsBodyAndPrincipalAndTheConnectionStaysOpen() async throws {
        try await withServer(router: Self.router) { port in
            try await offPool {
                let client = try RawClient(port: port)
                try client.send("POST /guarded HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer good\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
                #expect(try client.readResponse().status == 100)
                try client.send("hello")
                let first = try client.readResponse()
                #expect(first.status == 200 && first.bodyText == "good sent 5", "\(first.bodyText)")
                // The same connection, a pipelined pair: bodiless (authenticated in the router) and open.
                try client.send("GET /guarded HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer good\r\n\r\nPOST /open HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
                let second = try client.readResponse()
                #expect(second.status == 200 && second.bodyText == "good")
                let third = try client.readResponse()
                #expect(third.status == 200 && third.bodyText == "open 3")
                try client.send("GET /guarded HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(try client.readResponse().status == 401)
            }
        }
    }
}
