import Foundation
import HTTPTestSupport
import Servicekonto
import Testing
import TestSupport

/// The contract document is valid OpenAPI 3.1 and names every field the Swift types send.
struct ContractDocumentTests {
    static let contract = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Services/servicekonto-bridge/servicekonto-contract.yaml").path

    @Test func contractIsValidOpenAPI() async throws {
        let script = "from openapi_spec_validator import validate\nfrom openapi_spec_validator.readers import read_from_filename\nvalidate(read_from_filename(\(String(reflecting: Self.contract)))[0])\n"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: toolPath("python3"))
        process.arguments = ["-c", script]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        #expect(await eventually(timeout: .seconds(30)) { !process.isRunning })
        #expect(process.terminationStatus == 0, "openapi-spec-validator rejects \(Self.contract)")
    }

    @Test func contractNamesEveryFieldOfTheWireTypes() throws {
        let text = try String(contentsOfFile: Self.contract, encoding: .utf8)
        let message = PostboxMessage(id: "i", mailboxUuid: "m", sender: "s", title: "t", content: "c", service: "v", stork_qaa_level: 3,
                                     applicationId: "a", reference: "r",
                                     attachments: [PostboxAttachment(filename: "f", mimeType: "m", sha512sum: "h", contentLength: 1, content: "AA==")])
        let status = PostboxStatusUpdate(id: "i", mailboxUuid: "m", applicationId: "a", status: .processing, publicServiceName: "p",
                                         senderName: "s", createdDate: "d", statusDetails: "x")
        let reply = PostboxReply(id: "i", mailboxUuid: "m", inReplyTo: "r", applicationId: "a", text: "t", attachments: [], createdAt: "c")
        let receipt = PostboxReceipt(id: "i", receiverId: "r", receivedAt: "t", duplicate: false)
        for value in [try JSONEncoder().encode(message), try JSONEncoder().encode(status), try JSONEncoder().encode(reply), try JSONEncoder().encode(receipt)] {
            let object = try #require(try JSONSerialization.jsonObject(with: value) as? [String: Any])
            for key in object.keys { #expect(text.contains("\(key):"), "the contract does not describe \(key)") }
        }
    }
}
