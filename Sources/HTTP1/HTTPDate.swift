/// A point in time rendered as an HTTP date, computed without Foundation.
///
/// Uses the proleptic Gregorian calendar in UTC (Howard Hinnant's `civil_from_days`), which is what
/// IMF-fixdate (RFC 9110 §5.6.7) means; leap seconds do not exist in Unix time, so none are rendered.
package struct HTTPDate: Sendable, Equatable {
    /// Seconds since 1970-01-01T00:00:00Z (Unix time); may be negative.
    package var secondsSince1970: Int64

    /// Creates a date from Unix time.
    /// - Parameter secondsSince1970: Seconds since 1970-01-01T00:00:00Z, for example from `time(2)`.
    package init(secondsSince1970: Int64) {
        self.secondsSince1970 = secondsSince1970
    }

    /// The IMF-fixdate form used in the `Date` header, for example `Sun, 06 Nov 1994 08:49:37 GMT`.
    ///
    /// Years outside 0–9999 cannot be written in four digits and are clamped to that range.
    package var imfFixdate: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(29)
        appendIMFFixdate(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    private static let weekdayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let monthNames = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]

    /// Appends the IMF-fixdate bytes to `bytes`, so the response encoder needs no intermediate `String`.
    func appendIMFFixdate(to bytes: inout [UInt8]) {
        let (days, secondOfDay) = Self.flooredDivision(secondsSince1970, 86_400)
        // 1970-01-01 was a Thursday (index 4 with Sunday = 0).
        let weekday = Int(Self.flooredDivision(days + 4, 7).remainder)
        let (year, month, day) = Self.civilDate(fromDaysSince1970: days)

        bytes.append(contentsOf: Self.weekdayNames[weekday].utf8)
        bytes.append(contentsOf: ", ".utf8)
        Self.appendDecimal(day, width: 2, to: &bytes)
        bytes.append(ASCII.space)
        bytes.append(contentsOf: Self.monthNames[month - 1].utf8)
        bytes.append(ASCII.space)
        Self.appendDecimal(min(max(year, 0), 9_999), width: 4, to: &bytes)
        bytes.append(ASCII.space)
        Self.appendDecimal(Int64(secondOfDay / 3_600), width: 2, to: &bytes)
        bytes.append(ASCII.colon)
        Self.appendDecimal(Int64(secondOfDay / 60 % 60), width: 2, to: &bytes)
        bytes.append(ASCII.colon)
        Self.appendDecimal(Int64(secondOfDay % 60), width: 2, to: &bytes)
        bytes.append(contentsOf: " GMT".utf8)
    }

    /// Quotient and remainder rounded toward negative infinity, so times before 1970 land on the right day.
    private static func flooredDivision(_ value: Int64, _ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let quotient = value / divisor
        let remainder = value % divisor
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }

    /// Year, month (1–12) and day (1–31) of a day count since 1970-01-01 (Hinnant's `civil_from_days`).
    private static func civilDate(fromDaysSince1970 days: Int64) -> (year: Int64, month: Int, day: Int64) {
        let shifted = days + 719_468  // days since 0000-03-01
        let era = flooredDivision(shifted, 146_097).quotient
        let dayOfEra = shifted - era * 146_097  // [0, 146096]
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365  // [0, 399]
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)  // [0, 365], from March 1
        let shiftedMonth = (5 * dayOfYear + 2) / 153  // [0, 11], March = 0
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = Int(shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9)
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    /// Appends `value` as exactly `width` decimal digits (zero-padded; callers keep it in range).
    private static func appendDecimal(_ value: Int64, width: Int, to bytes: inout [UInt8]) {
        var divisor: Int64 = 1
        for _ in 1..<width { divisor *= 10 }
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
            divisor /= 10
        }
    }
}
