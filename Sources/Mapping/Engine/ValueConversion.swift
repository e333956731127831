import FHIR

/// Turns a source value into the JSON a FHIR primitive of the target's type holds, or nil when it cannot be one
/// (the value then counts as not mapped). HL7 v2 dates and times become FHIR dates with the message's time zone.
enum ValueConversion {
    static func convert(_ text: String, to type: String, zone: String?) -> JSONValue? {
        switch type {
        case "string", "markdown":
            return .string(text)
        case "date":
            if FHIRValidator.isValidPrimitive(text, type: "date") { return .string(text) }
            return V2Time.date(text).flatMap { FHIRValidator.isValidPrimitive($0, type: "date") ? .string($0) : nil }
        case "dateTime":
            if FHIRValidator.isValidPrimitive(text, type: "dateTime") { return .string(text) }
            return V2Time.dateTime(text, zone: zone).flatMap { FHIRValidator.isValidPrimitive($0, type: "dateTime") ? .string($0) : nil }
        case "instant":
            if FHIRValidator.isValidPrimitive(text, type: "instant") { return .string(text) }
            return V2Time.instant(text, zone: zone).flatMap { FHIRValidator.isValidPrimitive($0, type: "instant") ? .string($0) : nil }
        case "time":
            if FHIRValidator.isValidPrimitive(text, type: "time") { return .string(text) }
            let digits = text.prefix { $0.isNumber }
            guard digits.count >= 4, digits.count % 2 == 0 else { return nil }
            let hh = digits.prefix(2), mm = digits.dropFirst(2).prefix(2), ss = digits.count >= 6 ? digits.dropFirst(4).prefix(2) : "00"
            let t = "\(hh):\(mm):\(ss)"
            return FHIRValidator.isValidPrimitive(t, type: "time") ? .string(t) : nil
        case "decimal":
            var t = Substring(text.trimmingSpaces)
            if t.hasPrefix("+") { t = t.dropFirst() }
            var s = String(t)
            if s.hasPrefix(".") { s = "0" + s } else if s.hasPrefix("-.") { s = "-0" + s.dropFirst() }
            return FHIRValidator.isValidPrimitive(s, type: "decimal") ? .number(s) : nil
        case "integer", "positiveInt", "unsignedInt":
            let s = text.trimmingSpaces
            return FHIRValidator.isValidPrimitive(s, type: type) ? .number(s) : nil
        case "boolean":
            switch text.lowercased() {
            case "y", "yes", "true", "t", "1": return .bool(true)
            case "n", "no", "false", "f", "0": return .bool(false)
            default: return nil
            }
        default:
            return FHIRValidator.isValidPrimitive(text, type: type) ? .string(text) : nil
        }
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
