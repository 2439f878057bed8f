import Foundation
import Testing

/// The EmbedFiles plugin and its `embed-file` tool: the constants hold exactly the files' bytes,
/// whatever the files contain (see `embedded-files.txt` here and Fixtures/).
@Suite struct EmbedFilesTests {
    static func bytes(of path: String) throws -> [UInt8] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return Array(try Data(contentsOf: root.appendingPathComponent(path)))
    }

    @Test func awkwardContentRoundTripsByteForByte() throws {
        let file = try Self.bytes(of: "Tests/EmbedFilesTests/Fixtures/awkward.txt")
        // The fixture still holds what it is there for (a checkout could have normalised it).
        for needle in ["\r\n", "\r", "\u{0}", "\u{1B}", "\u{7F}", "\"\"\"####", "\\###(", "\u{FEFF}", "😀"] {
            #expect(file.firstRange(of: Array(needle.utf8)) != nil, "fixture lacks \(needle.debugDescription)")
        }
        #expect(file.last == UInt8(ascii: "d"), "the fixture ends without a newline")
        #expect(Array(Fixture.awkward.utf8) == file)
    }

    @Test func emptyFilesAndLeadingOrTrailingBlankLines() throws {
        #expect(Fixture.empty.isEmpty)
        #expect(Array(Fixture.newlines.utf8) == (try Self.bytes(of: "Tests/EmbedFilesTests/Fixtures/newlines.txt")))
        #expect(Fixture.newlines.hasPrefix("\n\n") && Fixture.newlines.hasSuffix("\n\n"))
    }

    @Test func aFileOfAnotherTargetUnderAnotherNamespace() throws {
        #expect(Array(Document.inbox.utf8) == (try Self.bytes(of: "Services/inbox/openapi.yaml")))
    }
}
