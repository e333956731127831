/// HL7 v2 DTM/TS values (`YYYY[MM[DD[HH[MM[SS[.S…]]]]]][+/-ZZZZ]`) as FHIR date, dateTime and instant.
///
/// A time without an offset takes the message's offset (MSH-7); when neither has one, FHIR cannot carry the time
/// (dateTime requires an offset when it has hours), so only the date is kept: less precise, never wrong.
enum V2Time {
    /// The `+hhmm`/`-hhmm` offset of a DTM, as FHIR writes it (`+hh:mm`), or nil.
    static func zone(of value: String?) -> String? {
        guard let value else { return nil }
        let u = Array(value.utf8)
        guard let i = u.firstIndex(where: { $0 == plus || $0 == minus }) else { return nil }
        return zone(u, from: i)
    }

    private static let plus = UInt8(ascii: "+"), minus = UInt8(ascii: "-"), dot = UInt8(ascii: ".")

    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    private static func zone(_ u: [UInt8], from i: Int) -> String? {
        guard u.count - i == 5, u[(i + 1)...].allSatisfy(isDigit) else { return nil }
        return String(decoding: [u[i], u[i + 1], u[i + 2], 0x3A, u[i + 3], u[i + 4]], as: UTF8.self)
    }

    private struct Parts {
        var digits: ArraySlice<UInt8>
        var fraction: ArraySlice<UInt8>
        var zone: String?
    }

    private static func parts(_ value: String?) -> Parts? {
        guard let value, !value.isEmpty else { return nil }
        let u = Array(value.utf8)
        var end = u.count
        var zone: String? = nil
        if let i = u.firstIndex(where: { $0 == plus || $0 == minus }) {
            zone = Self.zone(u, from: i)
            end = i
        }
        var body = u[0..<end]
        var fraction: ArraySlice<UInt8> = []
        if let d = body.firstIndex(of: dot) {
            fraction = body[(d + 1)...]
            body = body[..<d]
        }
        guard body.count >= 4, body.count <= 14, body.count % 2 == 0, body.allSatisfy(isDigit), fraction.allSatisfy(isDigit) else { return nil }
        return Parts(digits: body, fraction: fraction, zone: zone)
    }

    private static func number(_ s: ArraySlice<UInt8>) -> Int { s.reduce(0) { $0 * 10 + Int($1 - 0x30) } }

    private static func datePart(_ d: ArraySlice<UInt8>) -> [UInt8]? {
        let s = d.startIndex
        var out = Array(d[s..<s + 4])
        guard d.count >= 6 else { return out }
        let month = number(d[s + 4..<s + 6])
        guard (1...12).contains(month) else { return nil }
        out.append(minus)
        out += d[s + 4..<s + 6]
        guard d.count >= 8 else { return out }
        let day = number(d[s + 6..<s + 8])
        guard (1...31).contains(day) else { return nil }
        out.append(minus)
        out += d[s + 6..<s + 8]
        return out
    }

    /// FHIR `date` (year, year-month or full date).
    static func date(_ value: String?) -> String? {
        guard let p = parts(value), let d = datePart(p.digits.prefix(8)) else { return nil }
        return String(decoding: d, as: UTF8.self)
    }

    /// FHIR `dateTime`: to the second (and fraction) when an offset is known, else the date.
    static func dateTime(_ value: String?, zone messageZone: String?) -> String? {
        guard let p = parts(value), var out = datePart(p.digits.prefix(8)) else { return nil }
        guard p.digits.count > 8, let zone = p.zone ?? messageZone else { return String(decoding: out, as: UTF8.self) }
        let t = p.digits.dropFirst(8)
        let s = t.startIndex
        let hh = t[s..<s + 2]
        let mm: ArraySlice<UInt8> = t.count >= 4 ? t[s + 2..<s + 4] : [0x30, 0x30]
        let ss: ArraySlice<UInt8> = t.count >= 6 ? t[s + 4..<s + 6] : [0x30, 0x30]
        guard number(hh) < 24, number(mm) < 60, number(ss) < 60 else { return String(decoding: out, as: UTF8.self) }
        out.append(UInt8(ascii: "T"))
        out += hh
        out.append(0x3A)
        out += mm
        out.append(0x3A)
        out += ss
        if !p.fraction.isEmpty {
            out.append(dot)
            out += p.fraction
        }
        out += zone.utf8
        return String(decoding: out, as: UTF8.self)
    }

    /// FHIR `instant`: needs seconds and an offset; nil otherwise.
    static func instant(_ value: String?, zone: String?) -> String? {
        guard let p = parts(value), p.digits.count >= 12, let dt = dateTime(value, zone: zone), dt.utf8.contains(UInt8(ascii: "T")) else {
            return nil
        }
        return dt
    }
}
