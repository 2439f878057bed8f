import Postgres
import Synchronization

/// Random bearer secrets (caseworker tokens, intake client keys): 32 random bytes, base64url,
/// behind a recognisable prefix so a leaked one can be spotted by secret scanners. Only the
/// SHA-256 of the whole secret is stored; the secret itself is shown once.
public struct SecretToken: Sendable {
    public enum Kind: String, Sendable {
        case intakeClientKey = "amtsweg_ik_"
        case caseworkerToken = "amtsweg_ct_"
    }

    /// The secret to hand out once.
    public let value: String
    /// What is stored: SHA-256 of `value`.
    public let hash: [UInt8]

    /// A fresh secret from the system's CSPRNG (getrandom).
    public static func generate(_ kind: Kind) -> SecretToken {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for _ in 0..<4 {
            let word = generator.next() as UInt64
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        let value = kind.rawValue + Base64.urlEncode(bytes)
        return SecretToken(value: value, hash: SHA256.hash(value))
    }

    /// The stored hash of a presented secret.
    public static func hash(of presented: String) -> [UInt8] { SHA256.hash(presented) }

    /// The secret from an `Authorization: Bearer …` header value, or nil.
    public static func bearer(from header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: " \t")
        guard !token.isEmpty, token.utf8.count <= 200 else { return nil }
        return token
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = self
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}

/// A `bytea` parameter from bytes, without the copy `Data` makes.
public struct Bytea: PostgresEncodable, Sendable {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var postgresParameter: PostgresParameter { .binary(bytes, oid: PostgresOID.bytea) }
}

/// Hashes of presented secrets that matched nothing, remembered for `ttl`, so a flood of
/// requests with one bad key or token costs the database one lookup per `ttl`, not one per
/// request. A key created meanwhile works after at most `ttl`. At most `capacity` hashes are
/// kept (then all are forgotten).
public final class RefusedSecrets: Sendable {
    public static let defaultTTL: Duration = .seconds(2)
    private let ttl: Duration
    private let capacity: Int
    private let refused = Mutex<[[UInt8]: ContinuousClock.Instant]>([:])

    public init(ttl: Duration = RefusedSecrets.defaultTTL, capacity: Int = 10_000) {
        self.ttl = ttl
        self.capacity = capacity
    }

    /// Whether `hash` was refused less than `ttl` ago.
    public func contains(_ hash: [UInt8]) -> Bool {
        refused.withLock { refused in
            guard let until = refused[hash] else { return false }
            if until > .now { return true }
            refused[hash] = nil
            return false
        }
    }

    public func insert(_ hash: [UInt8]) {
        refused.withLock { refused in
            if refused.count >= capacity { refused.removeAll() }
            refused[hash] = .now + ttl
        }
    }
}
