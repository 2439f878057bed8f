import Foundation
import HTTPServer
import HTTPTestSupport
import Logging
import Testing

@Suite struct RouterTests {
    struct Claim: Codable, Validatable {
        var caseworker: String
        var priority: Int
        var tags: [String]

        func validate() -> [Problem.FieldError] {
            var problems: [Problem.FieldError] = []
            if caseworker.isEmpty { problems.append(.init(field: "caseworker", code: "empty", message: "must not be empty")) }
            if !(1...5).contains(priority) { problems.append(.init(field: "priority", code: "out-of-range", message: "must be 1…5")) }
            return problems
        }
    }

    struct Boom: Error, CustomStringConvertible {
        var description: String { "database exploded: secret-internal-detail" }
    }

    static func router(_ logger: Logger) -> Router {
        var router = Router(logger: logger)
        router.get("/items/:id") { context in .text("item \(try context.parameter("id"))") }
        router.get("/items/special") { _ in .text("special") }
        router.delete("/items/:id") { _ in HTTPResponse(status: .noContent) }
        router.post("/claims") { context in
            let claim = try context.decodeJSON(Claim.self)
            return try .json(claim, status: .created)
        }
        router.get("/correlation") { context in .text("ours \(context.requestID) theirs \(context.request.clientRequestID ?? "-")") }
        router.get("/boom") { _ in throw Boom() }
        router.get("/conflict") { _ in
            throw HTTPError.conflict(code: "already-claimed", detail: "Claimed by someone else.", extensions: ["current_state": "in_progress"])
        }
        router.get("/versioned") { context in
            let tag = ETag("v7")
            if context.request.isNotModified(current: tag) { return .notModified(etag: tag) }
            return HTTPResponse(status: .ok, headers: ["ETag": tag.headerValue], body: Array("seven".utf8))
        }
        router.put("/versioned") { context in
            try context.request.checkIfMatch(current: ETag("v7"))
            return .text("updated")
        }
        return router
    }

    func get(_ port: Int, _ path: String, headers: String = "") async throws -> RawClient.Response {
        try await request(port: port, "GET \(path) HTTP/1.1\r\nHost: t\r\n\(headers)\r\n")
    }

    func json(_ response: RawClient.Response) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    @Test func pathParametersAndLiteralPrecedence() async throws {
        try await withServer(router: Self.router) { (port: Int) async throws in
            #expect(try await get(port, "/items/42").bodyText == "item 42")
            #expect(try await get(port, "/items/a%20b").bodyText == "item a b")
            #expect(try await get(port, "/items/special").bodyText == "special")
        }
    }

    @Test func unknownPathIs404AndWrongMethodIs405WithAllow() async throws {
        try await withServer(router: Self.router) { port in
            let missing = try await get(port, "/nothing")
            #expect(missing.status == 404)
            #expect(missing.header("Content-Type") == "application/problem+json")
            let wrongMethod = try await request(port: port, "POST /items/1 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.header("Allow") == "GET, HEAD, DELETE")
        }
    }

    @Test func throwingHandlerGivesProblem500WithRequestIDAndLogsTheError() async throws {
        let sink = MemoryLogSink()
        try await withServer(logSink: sink, router: Self.router) { port in
            let response = try await get(port, "/boom")
            #expect(response.status == 500)
            #expect(response.header("Content-Type") == "application/problem+json")
            let requestID = try #require(response.header("X-Request-Id"))
            let problem = try json(response)
            #expect(problem["type"] as? String == "urn:amtsweg:problem:internal-error")
            #expect(problem["title"] as? String == "Internal Server Error")
            #expect(problem["status"] as? Int == 500)
            #expect(problem["request_id"] as? String == requestID)
            #expect(!response.bodyText.contains("secret-internal-detail"), "the error must never be echoed")
            let line = try #require(sink.lines.first { $0.contains("unhandled error") })
            let logged = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(logged["level"] as? String == "error")
            #expect(logged["request_id"] as? String == requestID)
            #expect(logged["error"] as? String == "database exploded: secret-internal-detail")
            #expect(logged["route"] as? String == "/boom")
        }
    }

    @Test func typedErrorBecomesItsProblem() async throws {
        try await withServer(router: Self.router) { port in
            let response = try await get(port, "/conflict")
            #expect(response.status == 409)
            let problem = try json(response)
            #expect(problem["code"] as? String == "already-claimed")
            #expect(problem["detail"] as? String == "Claimed by someone else.")
            #expect(problem["current_state"] as? String == "in_progress")
        }
    }

    /// Our request id is always our own (it is what the audit log records); a sane id the client
    /// sent is kept beside it as the client's correlation id, an insane one dropped.
    @Test func theRequestIDIsOursAndTheClientsSaneIDIsKeptBesideIt() async throws {
        try await withServer(router: Self.router) { port in
            let kept = try await get(port, "/correlation", headers: "X-Request-Id: abc-123.def:9\r\n")
            let ours = try #require(kept.header("X-Request-Id"))
            #expect(ours.count == 32 && ours != "abc-123.def:9")
            #expect(kept.bodyText == "ours \(ours) theirs abc-123.def:9")
            let replaced = try await get(port, "/correlation", headers: "X-Request-Id: <script>\r\n")
            #expect(replaced.header("X-Request-Id")?.count == 32)
            #expect(replaced.bodyText.hasSuffix("theirs -"))
            let tooLong = try await get(port, "/correlation", headers: "X-Request-Id: \(String(repeating: "a", count: 200))\r\n")
            #expect(tooLong.header("X-Request-Id")?.count == 32)
            #expect(tooLong.bodyText.hasSuffix("theirs -"))
        }
    }

    func postClaim(_ port: Int, _ body: String, contentType: String = "application/json") async throws -> RawClient.Response {
        try await request(port: port, "POST /claims HTTP/1.1\r\nHost: t\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
    }

    @Test func jsonBodyIsDecodedAndEncoded() async throws {
        try await withServer(router: Self.router) { port in
            let response = try await postClaim(port, #"{"caseworker":"ck-1","priority":2,"tags":["a"]}"#)
            #expect(response.status == 201)
            #expect(response.header("Content-Type") == "application/json")
            #expect(response.bodyText == #"{"caseworker":"ck-1","priority":2,"tags":["a"]}"#)
        }
    }

    @Test func jsonErrorsNameTheField() async throws {
        try await withServer(router: Self.router) { port in
            let missing = try json(try await postClaim(port, #"{"priority":2,"tags":[]}"#))
            #expect(missing["status"] as? Int == 422)
            #expect(missing["code"] as? String == "validation-failed")
            let missingErrors = try #require(missing["errors"] as? [[String: String]])
            #expect(missingErrors == [["field": "caseworker", "code": "missing", "message": "is required"]])

            let wrongType = try json(try await postClaim(port, #"{"caseworker":"x","priority":2,"tags":["a",7]}"#))
            let wrongTypeErrors = try #require(wrongType["errors"] as? [[String: String]])
            #expect(wrongTypeErrors.first?["field"] == "tags[1]")
            #expect(wrongTypeErrors.first?["code"] == "wrong-type")

            let invalid = try json(try await postClaim(port, #"{"caseworker":"","priority":9,"tags":[]}"#))
            let invalidErrors = try #require(invalid["errors"] as? [[String: String]])
            #expect(invalidErrors.map { $0["field"]! } == ["caseworker", "priority"])

            let notJSON = try await postClaim(port, "{nope")
            #expect(notJSON.status == 400)
            #expect(try json(notJSON)["code"] as? String == "invalid-json")

            let wrongMediaType = try await postClaim(port, "{}", contentType: "text/plain")
            #expect(wrongMediaType.status == 415)
        }
    }

    @Test func etagConditionalRequests() async throws {
        try await withServer(router: Self.router) { port in
            let first = try await get(port, "/versioned")
            #expect(first.header("ETag") == "\"v7\"")
            let notModified = try await get(port, "/versioned", headers: "If-None-Match: \"v6\", W/\"v7\"\r\n")
            #expect(notModified.status == 304)
            #expect(notModified.header("ETag") == "\"v7\"")
            let changed = try await get(port, "/versioned", headers: "If-None-Match: \"v6\"\r\n")
            #expect(changed.status == 200)

            func put(_ headers: String) async throws -> RawClient.Response {
                try await request(port: port, "PUT /versioned HTTP/1.1\r\nHost: t\r\n\(headers)Content-Length: 0\r\n\r\n")
            }
            #expect(try await put("").status == 428)
            let stale = try await put("If-Match: \"v6\"\r\n")
            #expect(stale.status == 412)
            #expect(stale.header("ETag") == "\"v7\"")
            #expect(try await put("If-Match: W/\"v7\"\r\n").status == 412)
            #expect(try await put("If-Match: \"v7\"\r\n").status == 200)
        }
    }
}
