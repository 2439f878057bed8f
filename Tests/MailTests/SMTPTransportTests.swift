import Foundation
import Lease
import Mail
import MailTestSupport
import Testing

/// Against a real SMTP server: aiosmtpd started per test (Tests/Fixtures/smtp/smtp_server.py).
@Suite struct SMTPTransportTests {
    static let values = NotificationValues(
        reference: "ERK-2026-000123", service: "Anwohnerparkausweis (Änderung)", link: "https://inbox.example/applications/1",
        tenant: "Stadt Erkrath")

    static func message(key: String = "notify-email-1", to: String = "sachbearbeitung@erkrath.de") throws -> MailMessage {
        let rendered = NotificationKind.newApplication.render(values)
        return try MailMessage(
            from: MailAddress("noreply@erkrath.de", displayName: "Stadt Erkrath – Bürgerbüro"), to: [MailAddress(to)],
            subject: rendered.subject, body: rendered.body, idempotencyKey: key)
    }

    static func configuration(_ server: SMTPServer, startTLS: SMTPConfiguration.StartTLS = .off) -> SMTPConfiguration {
        SMTPConfiguration(url: server.url, startTLS: startTLS, connectTimeout: .seconds(5), transferTimeout: .seconds(20), connections: 1)
    }

    /// Sends and returns the failure, if any.
    static func attempt(_ transport: SMTPTransport, _ message: MailMessage) async -> MailDeliveryError? {
        do { try await transport.send(message); return nil } catch { return error }
    }

    static func checkReceived(_ parsed: ParsedMessage, key: String = "notify-email-1") {
        #expect(parsed.subject == "Neuer Antrag ERK-2026-000123 in Ihrem Postkorb: Anwohnerparkausweis (Änderung)")
        #expect(parsed.raw_headers.contains("Subject: =?utf-8?B?"))
        #expect(parsed.from_address == "noreply@erkrath.de")
        #expect(parsed.from_name == "Stadt Erkrath – Bürgerbüro")
        #expect(parsed.to == ["sachbearbeitung@erkrath.de"])
        #expect(parsed.date_parsed)
        #expect(parsed.message_id == "<\(key)@amtsweg.erkrath.de>")
        #expect(parsed.auto_submitted == "auto-generated")
        #expect(parsed.mime_version == "1.0")
        #expect(parsed.content_type == "text/plain")
        #expect(parsed.charset == "utf-8")
        #expect(parsed.cte == "quoted-printable")
        #expect(parsed.body.contains("Online-Dienst: Anwohnerparkausweis (Änderung)"))
        #expect(parsed.body.contains("Zum Vorgang: https://inbox.example/applications/1"))
        #expect(parsed.body.contains("Bitte antworten Sie nicht auf diese E-Mail."))
        #expect(parsed.defects.isEmpty)
        #expect(parsed.only_crlf)
        #expect(parsed.ascii_only)
        #expect(parsed.max_line <= 76)
    }

    @Test func aSendWhoseDeadlinePassesMidDialogueIsAbortedBeforeTheEndOfData() async throws {
        var options = SMTPServer.Options()
        options.rcptDelay = 0.5
        try await SMTPServer.with(options) { server in
            let transport = try SMTPTransport(Self.configuration(server))
            defer { transport.shutdown() }
            // Live when the send starts; passes while the server takes its time over RCPT.
            let deadline = LeaseDeadline(until: .now + .milliseconds(200))
            let late = try Self.message(key: "late")
            do throws(MailDeliveryError) {
                try await transport.send(late, before: deadline)
                Issue.record("a send past its deadline was accepted")
            } catch {
                #expect(error.kind == .leaseLost, "\(error)")
            }
            #expect(try server.messages().isEmpty)
            #expect(try server.stats().messages == 0)
            // The transport carries on with the next message.
            try await transport.send(Self.message(key: "next"), before: LeaseDeadline(until: .now + .seconds(30)))
            let files = try server.messages()
            try #require(files.count == 1)
            #expect(try await ParsedMessage.parse(files[0]).message_id == "<next@amtsweg.erkrath.de>")
        }
    }

    @Test func plainSMTP() async throws {
        try await SMTPServer.with { server in
            let transport = try SMTPTransport(Self.configuration(server))
            defer { transport.shutdown() }
            try await transport.send(Self.message())
            let files = try server.messages()
            try #require(files.count == 1)
            Self.checkReceived(try await ParsedMessage.parse(files[0]))
            let envelope = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: files[0] + ".json"))) as! [String: Any]
            #expect(envelope["mail_from"] as? String == "noreply@erkrath.de")
            #expect(envelope["rcpt_tos"] as? [String] == ["sachbearbeitung@erkrath.de"])
            #expect(envelope["tls"] as? Bool == false)
        }
    }

    @Test func startTLSWithVerificationAndAuth() async throws {
        let directory = try makeTemporaryDirectory()
        let certificate = try await TestCertificate.make(in: directory)
        var options = SMTPServer.Options()
        options.certificate = certificate
        options.auth = ("amtsweg", "geheim-ß")
        try await SMTPServer.with(options) { server in
            // Good: STARTTLS, our CA, right password.
            var configuration = Self.configuration(server, startTLS: .required)
            configuration.caFile = certificate.certificate
            configuration.username = "amtsweg"
            configuration.password = "geheim-ß"
            let transport = try SMTPTransport(configuration)
            defer { transport.shutdown() }
            try await transport.send(Self.message())
            let files = try server.messages()
            try #require(files.count == 1)
            Self.checkReceived(try await ParsedMessage.parse(files[0]))
            let envelope = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: files[0] + ".json"))) as! [String: Any]
            #expect(envelope["tls"] as? Bool == true)
            #expect(envelope["authenticated"] as? Bool == true)

            // Without our CA the self-signed certificate is refused: verification is on.
            var untrusting = configuration
            untrusting.caFile = nil
            let untrustingTransport = try SMTPTransport(untrusting)
            defer { untrustingTransport.shutdown() }
            let untrusted = await Self.attempt(untrustingTransport, try Self.message(key: "k2"))
            #expect(untrusted?.kind == .transient)

            // A wrong password is refused, and counts as transient (not about the message).
            var wrong = configuration
            wrong.password = "falsch"
            let wrongTransport = try SMTPTransport(wrong)
            defer { wrongTransport.shutdown() }
            let denied = await Self.attempt(wrongTransport, try Self.message(key: "k3"))
            #expect(denied?.kind == .transient)
            #expect(denied?.reason.contains("535") == true, "\(String(describing: denied))")
            #expect(try server.messages().count == 1)
        }
    }

    @Test func implicitTLSWithAuth() async throws {
        let directory = try makeTemporaryDirectory()
        let certificate = try await TestCertificate.make(in: directory)
        var options = SMTPServer.Options()
        options.certificate = certificate
        options.implicitTLS = true
        options.auth = ("amtsweg", "geheim")
        try await SMTPServer.with(options) { server in
            #expect(server.url.hasPrefix("smtps://"))
            var configuration = Self.configuration(server, startTLS: .required)
            configuration.caFile = certificate.certificate
            configuration.username = "amtsweg"
            configuration.password = "geheim"
            let transport = try SMTPTransport(configuration)
            defer { transport.shutdown() }
            try await transport.send(Self.message())
            let files = try server.messages()
            try #require(files.count == 1)
            Self.checkReceived(try await ParsedMessage.parse(files[0]))
            let envelope = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: files[0] + ".json"))) as! [String: Any]
            #expect(envelope["authenticated"] as? Bool == true)
        }
    }

    @Test func silentServerTimesOutAsTransient() async throws {
        // Accepts connections (the kernel does) but never greets.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        listen(fd, 8)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let transport = try SMTPTransport(SMTPConfiguration(
            url: "smtp://127.0.0.1:\(port)", startTLS: .off, connectTimeout: .seconds(1), transferTimeout: .seconds(1), connections: 1))
        defer { transport.shutdown() }
        let started = ContinuousClock.now
        let failure = try #require(await Self.attempt(transport, try Self.message()))
        let elapsed = ContinuousClock.now - started
        #expect(failure.kind == .transient)
        #expect(failure.reason.contains("imeout") || failure.reason.contains("timed out"), "\(failure.reason)")
        #expect(elapsed < .seconds(5))
    }

    @Test func startTLSRequiredButNotOffered() async throws {
        try await SMTPServer.with { server in
            let transport = try SMTPTransport(Self.configuration(server, startTLS: .required))
            defer { transport.shutdown() }
            let failure = await Self.attempt(transport, try Self.message())
            #expect(failure?.kind == .transient)
            #expect(try server.messages().isEmpty)
        }
    }

    @Test func temporaryFailureThenSuccess() async throws {
        var options = SMTPServer.Options()
        options.failTemporarily = 2
        try await SMTPServer.with(options) { server in
            let transport = try SMTPTransport(Self.configuration(server))
            defer { transport.shutdown() }
            for _ in 0..<2 {
                let failure = await Self.attempt(transport, try Self.message())
                #expect(failure?.kind == .transient)
                #expect(failure?.replyCode == 451)
                #expect(failure?.reason.contains("Try again later, greylisted") == true)
            }
            try await transport.send(Self.message())
            let files = try server.messages()
            #expect(files.count == 1)
            #expect(try server.stats().messages == 1)
            // libcurl closes the connection after a refused RCPT; the next send opens a new one.
            #expect(transport.connectionsOpened == (try server.stats().connections))
        }
    }

    @Test func permanentFailureCarriesTheServersReply() async throws {
        var options = SMTPServer.Options()
        options.failPermanently = true
        try await SMTPServer.with(options) { server in
            let transport = try SMTPTransport(Self.configuration(server))
            defer { transport.shutdown() }
            let failure = try #require(await Self.attempt(transport, try Self.message()))
            #expect(failure.kind == .permanent)
            #expect(failure.replyCode == 550)
            #expect(failure.reason.contains("550 5.1.1 Mailbox unavailable: no such user here"))
            // libcurl's and the server's text only: nothing of the message.
            #expect(!failure.reason.contains("ERK-2026"))
            #expect(!failure.reason.contains("Anwohnerparkausweis"))
            #expect(try server.messages().isEmpty)
        }
    }

    @Test func serverDownThenUp() async throws {
        try await SMTPServer.with { server in
            let transport = try SMTPTransport(Self.configuration(server))
            defer { transport.shutdown() }
            try await transport.send(Self.message(key: "before"))
            server.stop()
            let failure = await Self.attempt(transport, try Self.message(key: "while-down"))
            #expect(failure?.kind == .transient)
            #expect(failure?.replyCode == nil)
            try await server.start()
            // The old connection is gone; the next send opens a new one and succeeds.
            try await transport.send(Self.message(key: "after"))
            #expect(try server.messages().count == 2)
            #expect(transport.connectionsOpened == 2)
        }
    }

    @Test func serverRestartedBetweenSendsCostsNoFailedAttempt() async throws {
        try await SMTPServer.with { server in
            let transport = try SMTPTransport(Self.configuration(server))
            defer { transport.shutdown() }
            try await transport.send(Self.message(key: "first"))
            server.stop()
            try await server.start()
            // The kept connection is dead; libcurl notices before reusing it.
            try await transport.send(Self.message(key: "second"))
            #expect(try server.messages().count == 2)
            #expect(transport.connectionsOpened == 2)
        }
    }

    @Test func connectionRefusedIsTransient() async throws {
        // A port nobody listens on: bind one, close it.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))
        close(fd)
        let transport = try SMTPTransport(SMTPConfiguration(url: "smtp://127.0.0.1:\(port)", startTLS: .off, connectTimeout: .seconds(2), connections: 1))
        defer { transport.shutdown() }
        let failure = try #require(await Self.attempt(transport, try Self.message()))
        #expect(failure.kind == .transient)
        #expect(failure.reason.contains("connect"))
    }

    @Test func burstReusesOneConnection() async throws {
        try await SMTPServer.with { server in
            let transport = try SMTPTransport(Self.configuration(server))
            defer { transport.shutdown() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<500 {
                    group.addTask { try await transport.send(Self.message(key: "burst-\(index)")) }
                }
                try await group.waitForAll()
            }
            #expect(transport.messagesSent == 500)
            #expect(transport.connectionsOpened == 1)
            let stats = try server.stats()
            #expect(stats.messages == 500)
            #expect(stats.connections == 1)
            #expect(try server.messages().count == 500)
        }
    }

    @Test func burstOverSeveralConnections() async throws {
        try await SMTPServer.with { server in
            var configuration = Self.configuration(server)
            configuration.connections = 3
            let transport = try SMTPTransport(configuration)
            defer { transport.shutdown() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<300 {
                    group.addTask { try await transport.send(Self.message(key: "burst-\(index)")) }
                }
                try await group.waitForAll()
            }
            let stats = try server.stats()
            #expect(stats.messages == 300)
            #expect(stats.connections <= 3)
            #expect(transport.connectionsOpened == stats.connections)
        }
    }
}

@Suite struct FileSpoolTransportTests {
    @Test func writesOneFilePerMessageAndResendOverwrites() async throws {
        let directory = try makeTemporaryDirectory() + "/spool/nested"
        let transport = try makeMailTransport(SMTPConfiguration(url: "file://" + directory))
        defer { transport.shutdown() }
        let spool = try #require(transport as? FileSpoolTransport)
        let message = try SMTPTransportTests.message()
        try await transport.send(message)
        try await transport.send(message)
        try await transport.send(SMTPTransportTests.message(key: "notify-email-2"))
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        // Two files (the resend overwrote its own), and no temporary file left behind.
        #expect(files.count == 2)
        #expect(files.allSatisfy { $0.hasSuffix(".eml") && $0.count == 64 + 4 })
        let path = spool.path(for: message)
        #expect(FileManager.default.fileExists(atPath: path))
        SMTPTransportTests.checkReceived(try await ParsedMessage.parse(path))
    }

    @Test func aMessagePastItsDeadlineIsNotSpooled() async throws {
        let directory = try makeTemporaryDirectory()
        let transport = try FileSpoolTransport(directory: directory)
        defer { transport.shutdown() }
        let lost = LeaseDeadline(until: .now + .seconds(60))
        lost.markLost()
        let message = try SMTPTransportTests.message()
        do throws(MailDeliveryError) {
            try await transport.send(message, before: lost)
            Issue.record("a message past its deadline was spooled")
        } catch {
            #expect(error.kind == .leaseLost)
        }
        // Neither the message nor its temporary file.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
        try await transport.send(message, before: LeaseDeadline(until: .now + .seconds(60)))
        #expect(FileManager.default.fileExists(atPath: transport.path(for: message)))
    }

    @Test func unwritableFolderIsAConfigurationError() throws {
        #expect(throws: MailError.self) { try FileSpoolTransport(directory: "/proc/amtsweg-mail") }
    }
}
