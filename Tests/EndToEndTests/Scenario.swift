import Foundation
import MailTestSupport
import SystemTestSupport
import Testing

/// Steps of the end-to-end scenarios, each through a public HTTP API of the running system
/// (intake, inbox, postbox sandbox) or what the SMTP server received.
struct Scenario {
    let system: AmtswegSystem

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// Posts an application with a fresh Idempotency-Key; returns the 201 body (`id`, `reference`, `status`).
    func submit(
        key: String, service: String, postalCode: String = "41812", mailbox: String? = UUID().uuidString.lowercased(),
        name: String = "Erika Mustermann"
    ) async throws -> APIResponse {
        var applicant: [String: any Sendable] = [
            "name": name, "email": "erika@example.org",
            "address": ["postal_code": postalCode, "municipality_key": "05370012"] as [String: any Sendable],
        ]
        if let mailbox {
            applicant["postbox"] = ["mailbox_id": mailbox, "trust_level": "substantial", "document_consent": true] as [String: any Sendable]
        }
        let response = try await system.intakeClient(key: key).post(
            "/v1/applications", ["service": service, "applicant": applicant, "form": ["kennzeichen": "HS-AB 123"] as [String: any Sendable]],
            headers: ["Idempotency-Key": UUID().uuidString])
        guard response.status == 201, response["id"] != nil else { throw Failure(description: "intake answered \(response)") }
        return response
    }

    /// The application as the caseworker sees it (`GET /v1/applications/{id}`), with its ETag.
    func detail(_ id: String, token: String) async throws -> APIResponse {
        let response = try await system.inboxClient(token: token).get("/v1/applications/\(id)")
        guard response.status == 200, response.header("ETag") != nil else { throw Failure(description: "GET application answered \(response)") }
        return response
    }

    /// A write to the application with `If-Match` set to its current version.
    func write(_ id: String, _ action: String, token: String, _ json: [String: any Sendable] = [:]) async throws -> APIResponse {
        let etag = try await detail(id, token: token).header("ETag")!
        return try await system.inboxClient(token: token).call("POST", "/v1/applications/\(id)/\(action)", json: json, headers: ["If-Match": etag])
    }

    /// Waits until `id` is in the caseworker's inbox, woken by long-polls (`wait` with
    /// `If-None-Match`); returns how many long-poll answers it took.
    func waitInInboxByLongPoll(_ id: String, token: String, etag startTag: String?, timeout: Duration = .seconds(20)) async throws -> Int {
        let inbox = system.inboxClient(token: token)
        var etag = startTag
        var answers = 0
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let headers = etag.map { ["If-None-Match": $0] } ?? [:]
            let response = try await inbox.get("/v1/inbox?wait=10&limit=200", headers: headers, timeout: 15)
            answers += 1
            if response.status == 304 { continue }
            guard response.status == 200 else { throw Failure(description: "inbox long-poll answered \(response)") }
            etag = response.header("ETag")
            let items = response.json["items"] as? [[String: Any]] ?? []
            if items.contains(where: { $0["id"] as? String == id }) { return answers }
        }
        throw Failure(description: "\(id) did not appear in the inbox within \(timeout)")
    }

    /// The inbox's current ETag for this caseworker.
    func inboxETag(token: String) async throws -> String? {
        try await system.inboxClient(token: token).get("/v1/inbox?limit=200").header("ETag")
    }

    /// The sandbox's record of a mailbox (messages, statuses, replies), once `condition` holds.
    func mailbox(_ id: String, timeout: Duration = .seconds(20), until condition: ([String: Any]) -> Bool) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        var last: APIResponse?
        while ContinuousClock.now < deadline {
            let response = try await system.sandboxClient.get("/sandbox/mailboxes/\(id)")
            last = response
            if response.status == 200, let box = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any], condition(box) {
                return box
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Failure(description: "mailbox \(id) did not reach the expected state within \(timeout); last: \(last.map(\.description) ?? "none")")
    }

    /// The BundID statuses stored for a mailbox, oldest first.
    static func statuses(_ box: [String: Any]) -> [String] {
        (box["statuses"] as? [[String: Any]] ?? []).compactMap { ($0["status"] as? [String: Any])?["status"] as? String }
    }

    static func messages(_ box: [String: Any]) -> [[String: Any]] {
        (box["messages"] as? [[String: Any]] ?? []).compactMap { $0["message"] as? [String: Any] }
    }

    /// The e-mails the SMTP server accepted whose subject names `reference`, once there are `count`.
    func mails(reference: String, count: Int = 1, timeout: Duration = .seconds(20)) async throws -> [SMTPJournalEntry] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let found = try system.smtp.journal().filter { $0.subject.contains(reference) }
            if found.count >= count { return found }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Failure(description: "fewer than \(count) e-mails for \(reference) within \(timeout): \(try system.smtp.journal().filter { $0.subject.contains(reference) })")
    }

    /// The application's detail once `condition` holds.
    func detail(_ id: String, token: String, timeout: Duration = .seconds(20), until condition: ([String: Any]) -> Bool) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        var last: APIResponse?
        while ContinuousClock.now < deadline {
            // 404 until routing puts it into this caseworker's view.
            let response = try await system.inboxClient(token: token).get("/v1/applications/\(id)")
            last = response
            if response.status == 200, let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any], condition(object) { return object }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Failure(description: "application \(id) did not reach the expected state within \(timeout); last: \(last.map(\.description) ?? "none")")
    }

    /// An admin list (`items`) from the inbox's admin API.
    func adminList(_ path: String, token: String) async throws -> [[String: Any]] {
        let response = try await system.inboxClient(token: token).get(path)
        guard response.status == 200 else { throw Failure(description: "GET \(path) answered \(response)") }
        return response.json["items"] as? [[String: Any]] ?? []
    }
}
