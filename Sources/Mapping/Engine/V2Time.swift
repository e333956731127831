/// HL7 v2 DTM/TS values (`YYYY[MM[DD[HH[MM[SS[.S…]]]]]][+/-ZZZZ]`) as FHIR date, dateTime and instant.
///
/// A time without an offset takes the message's offset (MSH-7); when neither has one, FHIR cannot carry the time
/// (dateTime requires an offset when it has hours), so only the date is kept: less precise, never wrong.
enum V2Time {
    /// The `+hhmm`/`-hhmm` offset of a DTM, as FHIR writes it (`+hh:mm`), or nil.
    static func zone(of value: String?) -> String? {
        guard let value, let i = value.firstIndex(where: { $0 == "+" || $0 == "-" }) else { return nil }
        let digits = value[value.index(after: i)...]
        guard digits.count == 4, digits.allSatisfy(\.isASCIIDigit) else { return nil }
        return "\(value[i])\(digits.prefix(2)):\(digits.suffix(2))"
    }

    private struct Parts {
        var digits: Substring
        var fraction: Substring
        var zone: String?
    }

    private static func parts(_ value: String?) -> Parts? {
        guard let value, !value.isEmpty else { return nil }
        var body = Substring(value)
        var zone: String? = nil
        if let i = body.firstIndex(where: { $0 == "+" || $0 == "-" }) {
            zone = Self.zone(of: String(body[i...]))
            body = body[..<i]
        }
        var fraction: Substring = ""
        if let dot = body.firstIndex(of: ".") {
            fraction = body[body.index(after: dot)...]
            body = body[..<dot]
        }
        guard body.count >= 4, body.count <= 14, body.count % 2 == 0, body.allSatisfy(\.isASCIIDigit),
            fraction.allSatisfy(\.isASCIIDigit)
        else { return nil }
        return Parts(digits: body, fraction: fraction, zone: zone)
    }

    private static func datePart(_ d: Substring) -> String? {
        let y = d.prefix(4)
        guard d.count >= 6 else { return String(y) }
        let m = d.dropFirst(4).prefix(2)
        guard let month = Int(m), (1...12).contains(month) else { return nil }
        guard d.count >= 8 else { return "\(y)-\(m)" }
        let day = d.dropFirst(6).prefix(2)
        guard let dd = Int(day), (1...31).contains(dd) else { return nil }
        return "\(y)-\(m)-\(day)"
    }

    /// FHIR `date` (year, year-month or full date).
    static func date(_ value: String?) -> String? {
        guard let p = parts(value) else { return nil }
        return datePart(p.digits.prefix(8))
    }

    /// FHIR `dateTime`: to the second (and fraction) when an offset is known, else the date.
    static func dateTime(_ value: String?, zone messageZone: String?) -> String? {
        guard let p = parts(value), let date = datePart(p.digits.prefix(8)) else { return nil }
        guard p.digits.count > 8, let zone = p.zone ?? messageZone else { return date }
        let t = p.digits.dropFirst(8)
        let hh = t.prefix(2), mm = t.count >= 4 ? t.dropFirst(2).prefix(2) : "00", ss = t.count >= 6 ? t.dropFirst(4).prefix(2) : "00"
        guard let h = Int(hh), h < 24, let mi = Int(mm), mi < 60, let s = Int(ss), s < 60 else { return date }
        let fraction = p.fraction.isEmpty ? "" : ".\(p.fraction)"
        return "\(date)T\(hh):\(mm):\(ss)\(fraction)\(zone)"
    }

    /// FHIR `instant`: needs seconds and an offset; nil otherwise.
    static func instant(_ value: String?, zone: String?) -> String? {
        guard let p = parts(value), p.digits.count >= 12, let dt = dateTime(value, zone: zone), dt.contains("T") else { return nil }
        return dt
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
