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

    @Test func everyWireTypeHasExactlyTheFieldsOfItsSchema() throws {
        let text = try String(contentsOfFile: Self.contract, encoding: .utf8)
        let attachment = PostboxAttachment(filename: "f", mimeType: "m", sha512sum: "h", contentLength: 1, content: "AA==")
        let message = PostboxMessage(id: "i", mailboxUuid: "m", sender: "s", title: "t", content: "c", service: "v", stork_qaa_level: 3,
                                     applicationId: "a", reference: "r", attachments: [attachment])
        let status = PostboxStatusUpdate(id: "i", mailboxUuid: "m", applicationId: "a", status: .processing, publicServiceName: "p",
                                         senderName: "s", createdDate: "d", statusDetails: "x")
        let reply = PostboxReply(id: "i", mailboxUuid: "m", inReplyTo: "r", applicationId: "a", text: "t", attachments: [], createdAt: "c")
        let receipt = PostboxReceipt(id: "i", receiverId: "r", receivedAt: "t", duplicate: false)
        // Every optional field is set above, so every field the type can send is in its JSON.
        let wire: [(schema: String, json: Data)] = [
            ("Message", try JSONEncoder().encode(message)), ("Attachment", try JSONEncoder().encode(attachment)),
            ("StatusUpdate", try JSONEncoder().encode(status)), ("Reply", try JSONEncoder().encode(reply)),
            ("Receipt", try JSONEncoder().encode(receipt)),
        ]
        for (schema, json) in wire {
            let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
            let described = Set(BlockYAML.keys(at: ["components", "schemas", schema, "properties"], in: text))
            #expect(!described.isEmpty, "the contract has no schema \(schema)")
            let sent = Set(object.keys)
            #expect(sent.subtracting(described).isEmpty, "\(schema) does not describe \(sent.subtracting(described).sorted())")
            #expect(described.subtracting(sent).isEmpty, "the Swift type of \(schema) never sends \(described.subtracting(sent).sorted())")
        }
    }

    @Test func theStructuralReadFindsKeysOnlyWhereTheyAre() {
        let text = """
            a:
              description: |
                b: not a key, block text
              b:
                c: { x: 1 }
                d: 2
              e:
                c: 3
            """
        #expect(BlockYAML.keys(at: ["a", "b"], in: text) == ["c", "d"])
        #expect(BlockYAML.keys(at: ["a", "e"], in: text) == ["c"])
        #expect(BlockYAML.keys(at: ["a"], in: text) == ["description", "b", "e"])
        #expect(BlockYAML.keys(at: ["b"], in: text).isEmpty)
    }
}

/// A structural read of block-style YAML, enough for the contract: the keys directly under the
/// mapping at a path of keys, found by indentation. Flow mappings (`{ … }`) are values and not
/// read into; block scalars (`|`, `>`) are skipped; sequence items are not keys.
enum BlockYAML {
    static func keys(at path: [String], in text: String) -> [String] {
        var stack: [(indent: Int, key: String)] = []
        var blockScalarIndent: Int?
        var found: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let indent = line.prefix { $0 == " " }.count
            let content = line.dropFirst(indent)
            if content.isEmpty || content.hasPrefix("#") { continue }
            if let scalar = blockScalarIndent {
                if indent > scalar { continue }
                blockScalarIndent = nil
            }
            guard let colon = content.firstIndex(of: ":"), !content.hasPrefix("- ") else { continue }
            var key = String(content[..<colon])
            if key.count >= 2, let quote = key.first, quote == "'" || quote == "\"", key.last == quote { key = String(key.dropFirst().dropLast()) }
            guard !key.contains(" ") else { continue }
            while let last = stack.last, last.indent >= indent { stack.removeLast() }
            if stack.map(\.key) == path { found.append(key) }
            stack.append((indent, key))
            let value = content[content.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("|") || value.hasPrefix(">") { blockScalarIndent = indent }
        }
        return found
    }
}
