import Domain
import Testing

@Suite struct SHA256Tests {
    // FIPS 180-4 / RFC 6234 test vectors.
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    ])
    func knownVectors(input: String, digest: String) {
        #expect(SHA256.hexDigest(Array(input.utf8)) == digest)
    }

    @Test func oneMillionA() {
        let input = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(SHA256.hexDigest(input) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func incrementalUpdatesMatchOneShotAtEveryBoundary() {
        let input = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let expected = SHA256.hash(input)
        for split in [0, 1, 55, 56, 63, 64, 65, 127, 128, 200, 300] {
            var hasher = SHA256()
            hasher.update(input[0..<split])
            hasher.update(input[split...])
            #expect(hasher.finalize() == expected, "split at \(split)")
        }
        // Padding boundaries: lengths 55, 56, 63, 64 differ in the padding block count.
        #expect(SHA256.hexDigest([UInt8](repeating: 0, count: 55)) == "02779466cdec163811d078815c633f21901413081449002f24aa3e80f0b88ef7")
        #expect(SHA256.hexDigest([UInt8](repeating: 0, count: 64)) == "f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b")
    }
}

@Suite struct Base64Tests {
    @Test func decodesStrictBase64() {
        #expect(Base64.decode("") == [])
        #expect(Base64.decode("aGVsbG8=") == Array("hello".utf8))
        #expect(Base64.decode("aGVsbG8h") == Array("hello!".utf8))
        #expect(Base64.decode("aGk=") == Array("hi".utf8))
        #expect(Base64.decode("aA==") == Array("h".utf8))
        #expect(Base64.decode("+/+/") == [0xFB, 0xFF, 0xBF])
    }

    @Test(arguments: ["a", "aGVsbG8", "aGVsbG8*", "aGV sbG8=", "aG=sbG8=", "aGk==", "=aGk", "aGVsbG8-", "aB==", "aGl="])
    func refusesMalformedBase64(_ text: String) {
        #expect(Base64.decode(text) == nil)
    }

    @Test func urlEncodingHasNoPaddingOrPlusOrSlash() {
        #expect(Base64.urlEncode([0xFB, 0xFF, 0xBF]) == "-_-_")
        #expect(Base64.urlEncode(Array("h".utf8)) == "aA")
        #expect(Base64.urlEncode(Array("hi".utf8)) == "aGk")
    }
}

@Suite struct SecretAndReferenceTests {
    @Test func secretsArePrefixedRandomAndHashed() {
        let a = SecretToken.generate(.intakeClientKey), b = SecretToken.generate(.intakeClientKey)
        #expect(a.value.hasPrefix("amtsweg_ik_"))
        #expect(a.value.count == "amtsweg_ik_".count + 43)  // 32 bytes base64url without padding
        #expect(a.value != b.value)
        #expect(a.hash == SHA256.hash(a.value))
        #expect(SecretToken.generate(.caseworkerToken).value.hasPrefix("amtsweg_ct_"))
    }

    @Test func bearerHeaderParsing() {
        #expect(SecretToken.bearer(from: "Bearer abc") == "abc")
        #expect(SecretToken.bearer(from: "bearer   abc ") == "abc")
        #expect(SecretToken.bearer(from: "Basic abc") == nil)
        #expect(SecretToken.bearer(from: "Bearer") == nil)
        #expect(SecretToken.bearer(from: nil) == nil)
    }

    @Test func referencesAreZeroPaddedToSixDigits() {
        #expect(Reference.format(prefix: "ERK", year: 2026, number: 123) == "ERK-2026-000123")
        #expect(Reference.format(prefix: "HS", year: 2027, number: 1_234_567) == "HS-2027-1234567")
        #expect(Reference.isValidPrefix("ERK"))
        #expect(!Reference.isValidPrefix("erk"))
        #expect(!Reference.isValidPrefix("E"))
        #expect(!Reference.isValidPrefix("1RK"))
    }

    @Test func trustLevelsAreOrdered() {
        #expect(TrustLevel.basic < .substantial && TrustLevel.substantial < .high)
        #expect(TrustLevel.high.storkQAALevel == 4)
    }
}
