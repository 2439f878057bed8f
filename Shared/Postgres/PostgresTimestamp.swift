import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// Text form of `timestamptz` as exchanged with sessions set to `TimeZone=UTC, DateStyle=ISO`:
/// `2026-11-23 11:07:00.123456+00`.
enum PostgresTimestamp {
    static func format(_ date: Date) -> String {
        let interval = date.timeIntervalSince1970
        var seconds = Int(interval.rounded(.down))
        var micros = Int(((interval - Double(seconds)) * 1_000_000).rounded())
        if micros >= 1_000_000 { seconds += 1; micros -= 1_000_000 }
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        // PostgreSQL has no year 0: astronomical year 0 is 1 BC, -1 is 2 BC, …
        let year = Int(parts.tm_year) + 1900
        let era = year <= 0 ? " BC" : ""
        return "\(pad(year <= 0 ? 1 - year : year, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2)) "
            + "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2)).\(pad(micros, 6))+00" + era
    }

    /// Parses `YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM]]` (timestamptz) or without zone (timestamp, taken as UTC).
    static func parse(_ input: UnsafeBufferPointer<UInt8>) -> Date? {
        // Dates before year 1 end in " BC" (1 BC is astronomical year 0).
        let suffix: [UInt8] = [32, 66, 67]
        let beforeChrist = input.count > 3 && Array(input[(input.count - 3)...]) == suffix
        let bytes = beforeChrist ? UnsafeBufferPointer(rebasing: input[..<(input.count - 3)]) : input
        var index = 0
        func number(_ digits: Int) -> Int? {
            guard index + digits <= bytes.count else { return nil }
            var value = 0
            for offset in 0..<digits {
                let byte = bytes[index + offset]
                guard byte >= 48 && byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            index += digits
            return value
        }
        func expect(_ character: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == character else { return false }
            index += 1
            return true
        }
        guard let writtenYear = number(4), expect(45), let month = number(2), expect(45), let day = number(2),
              expect(32) || expect(84), let hour = number(2), expect(58), let minute = number(2), expect(58),
              let second = number(2)
        else { return nil }
        var fraction = 0.0
        if index < bytes.count, bytes[index] == 46 {
            index += 1
            var scale = 0.1
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                fraction += Double(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        var offsetSeconds = 0
        if index < bytes.count {
            let sign: Int
            switch bytes[index] {
            case 43: sign = 1
            case 45: sign = -1
            case 90: sign = 0
            default: return nil
            }
            index += 1
            if sign != 0 {
                guard let offsetHours = number(2) else { return nil }
                var offsetMinutes = 0
                if expect(58) { offsetMinutes = number(2) ?? 0 }
                var offsetExtraSeconds = 0
                if expect(58) { offsetExtraSeconds = number(2) ?? 0 }
                offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60 + offsetExtraSeconds)
            }
        }
        let year = beforeChrist ? 1 - writtenYear : writtenYear
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let epoch = timegm(&parts)
        return Date(timeIntervalSince1970: Double(epoch - offsetSeconds) + fraction)
    }
}
