import Foundation
import HTTPTestSupport
import Synchronization

/// A caseworker's client: one keep-alive connection, long-polls on `GET /v1/inbox?wait=10&limit=200` (`limit` settable)
/// with `If-None-Match`, on a thread of its own. After each 200 it notes the first-seen time of
/// every id on the page. The inbox is newest first, so when more than 200 applications arrive
/// between two answers the page is all new ids: then it follows `next_cursor` (up to
/// `maxExtraPages` more pages) until a page holds an id it has seen. Ids it never sees are
/// reported by the benchmark, not hidden.
final class InboxWatcher: Sendable {
    struct Counters: Sendable {
        var answers200 = 0
        var answers304 = 0
        var extraPages = 0
        var errors = 0
        var lastError = ""
    }

    let port: Int
    let token: String
    let maxExtraPages: Int
    let limit: Int
    /// Lower-cased application id → wall time of the answer that first showed it.
    let seen = Locked<[String: Double]>([:])
    let counters = Locked(Counters())
    private let stopping = Atomic<Bool>(false)
    private let socket = Atomic<Int32>(-1)
    private let finished = Locked<Bool>(false)

    init(port: Int, token: String, limit: Int = 200, maxExtraPages: Int = 10) {
        self.limit = limit
        self.port = port
        self.token = token
        self.maxExtraPages = maxExtraPages
    }

    func start() {
        let thread = Thread { [self] in
            run()
            finished.with { $0 = true }
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Ends the loop (cuts a long-poll in progress) and waits until the thread is done.
    func stop() async {
        stopping.store(true, ordering: .sequentiallyConsistent)
        let fd = socket.load(ordering: .sequentiallyConsistent)
        if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) }
        while !finished.value { try? await Task.sleep(for: .milliseconds(20)) }
    }

    private func run() {
        var etag: String?
        var client: RawClient?
        var checkedParser = 0
        while !stopping.load(ordering: .sequentiallyConsistent) {
            do {
                if client == nil {
                    let made = try RawClient(port: port, receiveTimeout: 20)
                    socket.store(made.fd, ordering: .sequentiallyConsistent)
                    client = made
                }
                let response = try exchange(client!, "/v1/inbox?wait=10&limit=\(limit)", etag: etag)
                let now = wallNow()
                if response.status == 304 {
                    counters.with { $0.answers304 += 1 }
                    continue
                }
                guard response.status == 200 else { throw BenchError("inbox answered \(response.status): \(response.bodyText.prefix(300))") }
                etag = response.header("ETag")
                var page = Self.parse(response.body)
                if checkedParser < 3, !page.ids.isEmpty {
                    // The byte scan below must agree with a JSON parser.
                    let items = ((try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any])?["items"] as? [[String: Any]] ?? []
                    let parsed = items.compactMap { ($0["id"] as? String)?.lowercased() }
                    guard parsed == page.ids else { throw BenchError("inbox page scan disagrees with JSON: \(page.ids.prefix(3)) vs \(parsed.prefix(3))") }
                    checkedParser += 1
                }
                var extra = 0
                var pageTime = now
                while true {
                    let allNew = record(page.ids, at: pageTime)
                    guard allNew, let cursor = page.nextCursor, extra < maxExtraPages else { break }
                    extra += 1
                    let more = try exchange(client!, "/v1/inbox?limit=\(limit)&cursor=\(cursor)", etag: nil)
                    guard more.status == 200 else { throw BenchError("inbox page answered \(more.status)") }
                    pageTime = wallNow()
                    page = Self.parse(more.body)
                }
                counters.with { $0.answers200 += 1; $0.extraPages += extra }
            } catch {
                if stopping.load(ordering: .sequentiallyConsistent) { break }
                counters.with { $0.errors += 1; $0.lastError = "\(error)" }
                client = nil
                socket.store(-1, ordering: .sequentiallyConsistent)
                usleep(100_000)
            }
        }
    }

    /// Notes ids not seen before; true when the page was non-empty and every id on it was new.
    private func record(_ ids: [String], at time: Double) -> Bool {
        seen.with { seen in
            var new = 0
            for id in ids where seen[id] == nil {
                seen[id] = time
                new += 1
            }
            return !ids.isEmpty && new == ids.count
        }
    }

    private func exchange(_ client: RawClient, _ path: String, etag: String?) throws -> RawClient.Response {
        var head = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n"
        if let etag { head += "If-None-Match: \(etag)\r\n" }
        try client.send(head + "\r\n")
        return try client.readResponse()
    }

    /// Item ids and the next cursor of an inbox page, by a byte scan. The page is
    /// `{"items":[{"id" : "…", …},{"id" : "…", …}],"next_cursor":…}` (items built by PostgreSQL's
    /// json_build_object); nested objects also have an "id" but follow `: `, never `[` or `,`.
    static func parse(_ body: [UInt8]) -> (ids: [String], nextCursor: String?) {
        let marker = Array(#"{"id" : ""#.utf8)
        var ids: [String] = []
        var index = 1
        let count = body.count
        while index + marker.count + 36 <= count {
            if body[index] == UInt8(ascii: "{"), body[index - 1] == UInt8(ascii: "[") || body[index - 1] == UInt8(ascii: ","),
               body[index..<(index + marker.count)].elementsEqual(marker) {
                let start = index + marker.count
                ids.append(String(decoding: body[start..<(start + 36)], as: UTF8.self).lowercased())
                index = start + 36
            } else {
                index += 1
            }
        }
        var cursor: String?
        let cursorMarker = Array(#""next_cursor":""#.utf8)
        if body.count > cursorMarker.count, let start = (0...(body.count - cursorMarker.count)).last(where: {
            body[$0] == UInt8(ascii: "\"") && body[$0..<($0 + cursorMarker.count)].elementsEqual(cursorMarker)
        }) {
            let from = start + cursorMarker.count
            if let end = body[from...].firstIndex(of: UInt8(ascii: "\"")) {
                cursor = String(decoding: body[from..<end], as: UTF8.self)
                    .addingPercentEncoding(withAllowedCharacters: .alphanumerics)
            }
        }
        return (ids, cursor)
    }
}
