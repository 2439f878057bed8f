import Administration
import Foundation
import HTTPTestSupport
import Testing
import TestSupport

/// Clients that mean harm, against the `intake` executable: without a valid key they must not
/// make it hold their bodies.
@Suite(.serialized) struct HostileClientTests {
    /// The head of an application post with `key`, declaring a body of `contentLength` bytes.
    static func postHead(key: String, contentLength: Int) -> String {
        "POST /v1/applications HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(key)\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(contentLength)\r\n\r\n"
    }

    /// 40 connections with an invalid key, each declaring a 31 MiB body (under intake's 32 MiB
    /// limit) and sending it for up to 10 s. Read before authenticating, that is 1.2 GiB of
    /// memory; authenticated from the head, each is answered 401 before its body is read.
    @Test func unauthenticatedBodiesAreRefusedFromTheHeadWithoutBeingBuffered() async throws {
        let db = try await TestDatabase.make()
        try await ManagedProcess.with(product: "intake", databaseURL: db.serviceURL) { intake in
            let baseline = try #require(intake.peakResidentBytes())
            let declared = 31 << 20
            let port = intake.port
            let answers = try await withThrowingTaskGroup(of: Int?.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        try await offPool {
                            let client = try RawClient(port: port, receiveTimeout: 15)
                            client.setSendTimeout(2)
                            try client.send(Self.postHead(key: "amtsweg_ik_not-a-key-\(index)", contentLength: declared))
                            _ = client.sendFiller(declared - 1, until: Date().addingTimeInterval(10))
                            return (try? client.readResponse(headOnly: true))?.status
                        }
                    }
                }
                var statuses: [Int?] = []
                for try await status in group { statuses.append(status) }
                return statuses
            }
            let peak = try #require(intake.peakResidentBytes())
            #expect(answers.allSatisfy { $0 == 401 }, "every client is told 401: \(answers)")
            // Bound: the baseline plus what the loop may buffer before it knows (a head, 64 KiB
            // reads in flight, lingering discards), far below one body of 31 MiB per client.
            #expect(peak - baseline < 64 << 20, "peak RSS grew by \((peak - baseline) >> 20) MiB (from \(baseline >> 20) MiB)")
            let ready = try await request(port: port, "GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            #expect(ready.status == 200)
        }
    }

    /// Eight clients with a valid key post 31 MiB at once. Past the process-wide cap on buffered
    /// bodies (here 64 MiB) a request is answered 503 with `Retry-After` before its body is
    /// buffered, so memory stays bounded by the cap, not by the number of clients.
    @Test func bufferedBodiesAreCappedProcessWide() async throws {
        let db = try await TestDatabase.make()
        let key = try await LiveServiceTests.seed(db)
        let cap = 64 << 20
        try await ManagedProcess.with(product: "intake", databaseURL: db.serviceURL, environment: ["HTTP_MAX_BUFFERED_BODY_BYTES": String(cap)]) { intake in
            let baseline = try #require(intake.peakResidentBytes())
            let declared = 31 << 20
            let port = intake.port
            // Every client sends its head, then waits until all heads are in, then its body.
            let answers = try await withThrowingTaskGroup(of: (Int?, String?).self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await offPool {
                            let client = try RawClient(port: port, receiveTimeout: 60)
                            client.setSendTimeout(10)
                            try client.send(Self.postHead(key: key, contentLength: declared))
                            usleep(500_000)
                            _ = client.sendFiller(declared, until: Date().addingTimeInterval(30))
                            let response = try? client.readResponse()
                            return (response?.status, response?.header("Retry-After"))
                        }
                    }
                }
                var answers: [(Int?, String?)] = []
                for try await answer in group { answers.append(answer) }
                return answers
            }
            let peak = try #require(intake.peakResidentBytes())
            let busy = answers.filter { $0.0 == 503 }
            #expect(busy.count >= 6, "at most two 31 MiB bodies fit under 64 MiB: \(answers.map { $0.0 as Any })")
            #expect(busy.allSatisfy { $0.1 != nil }, "503 carries Retry-After")
            #expect(answers.allSatisfy { $0.0 == 503 || $0.0 == 400 }, "the admitted bodies (not JSON) are refused as such: \(answers.map { $0.0 as Any })")
            #expect(peak - baseline < 4 * cap, "peak RSS grew by \((peak - baseline) >> 20) MiB (cap \(cap >> 20) MiB)")
        }
    }

    /// A flood of requests with one invalid key costs the database a lookup now and then, not
    /// one per request: refusals are remembered briefly.
    @Test func invalidKeysAreRememberedBrieflyNotLookedUpPerRequest() async throws {
        let db = try await TestDatabase.make()
        try await db.pool.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        try await ManagedProcess.with(product: "intake", databaseURL: db.serviceURL) { intake in
            try await db.pool.query("SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)")
            let id = UUID().uuidString.lowercased()
            for _ in 0..<50 {
                let answer = try await request(port: intake.port, "GET /v1/applications/\(id) HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer amtsweg_ik_flood\r\nConnection: close\r\n\r\n")
                #expect(answer.status == 401)
            }
            let lookups = try await db.scalar("""
                SELECT coalesce(sum(calls), 0)::integer FROM pg_stat_statements
                WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query ILIKE '%FROM intake_clients c%key_hash%'
                """, as: Int.self)
            #expect(lookups >= 1 && lookups <= 5, "\(lookups) lookups for 50 requests with one invalid key")
        }
    }
}
