import Foundation
import HTTPServer
import HTTPTestSupport
import Testing

/// Duplicate member names are refused wherever JSON is read: readers disagree on which copy
/// counts, so a validator in front of us and we could see different values.
@Suite struct JSONDuplicateKeysTests {
    @Test(arguments: [
        (#"{"a":1,"a":2}"#, "a"),
        (#"{"a":1,"\u0061":2}"#, "a"),
        (#"{"applicant":{"name":"x","address":{"postal_code":"1","postal_code":"2"}}}"#, "applicant.address.postal_code"),
        (#"{"attachments":[{"filename":"a"},{"filename":"b","filename":"c"}]}"#, "attachments[1].filename"),
        (#"[{"k":1},{"k":1,"k":2}]"#, "[1].k"),
        (#"{"\ud83d\ude00":1,"😀":2}"#, "😀"),
    ])
    func duplicatesAreFoundWithTheirPath(json: String, path: String) {
        #expect(JSONDuplicateKeys.firstDuplicate(in: Array(json.utf8)) == path)
    }

    @Test(arguments: [
        #"{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}"#,
        #"{"a":"{\"a\":1,\"a\":2}","b":"\\"}"#,
        #"["a","a",{"a":"a"}]"#,
        #"{"a":1,"A":2,"a ":3}"#,
        "{\"unterminated",
        "",
    ])
    func distinctNamesAndStringsThatLookLikeObjectsAreFine(json: String) {
        #expect(JSONDuplicateKeys.firstDuplicate(in: Array(json.utf8)) == nil)
    }

    @Test func theRouterRefusesADuplicateNameWith422NamingIt() async throws {
        try await withServer(router: RouterTests.router) { port in
            let body = #"{"caseworker":"ck-1","priority":2,"priority":9,"tags":[]}"#
            let response = try await request(port: port, "POST /claims HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            #expect(response.status == 422)
            let problem = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
            let errors = problem?["errors"] as? [[String: Any]]
            #expect(errors?.first?["field"] as? String == "priority")
            #expect(errors?.first?["code"] as? String == "duplicate-key")
        }
    }
}
