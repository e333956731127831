import FHIR

/// Turns a source value into the JSON a FHIR primitive of the target's type holds, or nil when it cannot be one
/// (the value then counts as not mapped). HL7 v2 dates and times become FHIR dates with the message's time zone.
enum ValueConversion {
    /// How a value becomes a target's type, resolved from the type's name once (when the rule is loaded).
    enum Kind: Sendable {
        case string, date, dateTime, instant, time, decimal, boolean
        case integer(FHIRTypeTable.Primitive.Format)
        /// Another primitive: the text as it is, when valid.
        case checked(FHIRTypeTable.Primitive.Format)
        /// A vocabulary's code written as a Coding or a CodeableConcept.
        case coding, concept
        /// Text written as a generated Narrative: the text, escaped, in an XHTML div.
        case narrative
        /// A complex type (only a datatype map or a vocabulary writes one).
        case complex

        init(_ type: String, table: FHIRTypeTable = .r4) {
            switch type {
            case "string", "markdown": self = .string
            case "date": self = .date
            case "dateTime": self = .dateTime
            case "instant": self = .instant
            case "time": self = .time
            case "decimal": self = .decimal
            case "boolean": self = .boolean
            case "Coding": self = .coding
            case "CodeableConcept": self = .concept
            case "Narrative": self = .narrative
            default:
                guard let primitive = table.primitives[type] else {
                    self = .complex
                    return
                }
                switch primitive.resolvedFormat {
                case .integer, .positiveInt, .unsignedInt: self = .integer(primitive.resolvedFormat)
                default: self = .checked(primitive.resolvedFormat)
                }
            }
        }
    }

    static func convert(_ text: String, to type: String, zone: String?) -> JSONValue? {
        convert(text, as: Kind(type), zone: zone)
    }

    static func convert(_ text: String, as kind: Kind, zone: String?) -> JSONValue? {
        switch kind {
        case .string:
            return .string(text)
        case .date:
            if FHIRValidator.isValidPrimitive(text, format: .date) { return .string(text) }
            return V2Time.date(text).flatMap { FHIRValidator.isValidPrimitive($0, format: .date) ? .string($0) : nil }
        case .dateTime:
            if FHIRValidator.isValidPrimitive(text, format: .dateTime) { return .string(text) }
            return V2Time.dateTime(text, zone: zone).flatMap { FHIRValidator.isValidPrimitive($0, format: .dateTime) ? .string($0) : nil }
        case .instant:
            if FHIRValidator.isValidPrimitive(text, format: .instant) { return .string(text) }
            return V2Time.instant(text, zone: zone).flatMap { FHIRValidator.isValidPrimitive($0, format: .instant) ? .string($0) : nil }
        case .time:
            if FHIRValidator.isValidPrimitive(text, format: .time) { return .string(text) }
            let digits = text.prefix { $0.isNumber }
            guard digits.count >= 4, digits.count % 2 == 0 else { return nil }
            let hh = digits.prefix(2), mm = digits.dropFirst(2).prefix(2), ss = digits.count >= 6 ? digits.dropFirst(4).prefix(2) : "00"
            let t = "\(hh):\(mm):\(ss)"
            return FHIRValidator.isValidPrimitive(t, format: .time) ? .string(t) : nil
        case .decimal:
            var t = Substring(text.trimmingSpaces)
            if t.hasPrefix("+") { t = t.dropFirst() }
            var s = String(t)
            if s.hasPrefix(".") { s = "0" + s } else if s.hasPrefix("-.") { s = "-0" + s.dropFirst() }
            return FHIRValidator.isValidPrimitive(s, format: .decimal) ? .number(s) : nil
        case .integer(let format):
            let s = text.trimmingSpaces
            return FHIRValidator.isValidPrimitive(s, format: format) ? .number(s) : nil
        case .boolean:
            switch text.lowercased() {
            case "y", "yes", "true", "t", "1": return .bool(true)
            case "n", "no", "false", "f", "0": return .bool(false)
            default: return nil
            }
        case .checked(let format):
            return FHIRValidator.isValidPrimitive(text, format: format) ? .string(text) : nil
        case .narrative:
            return narrative(div: narrativeDiv(text))
        case .coding, .concept, .complex:
            return .string(text)
        }
    }
}

extension ValueConversion {
    /// A generated Narrative holding `div`.
    static func narrative(div: String) -> JSONValue {
        .object(JSONObject([("status", .string("generated")), ("div", .string(div))]))
    }

    /// Text as an XHTML div, the form FHIR's narrative takes: `&`, `<` and `>` escaped, line breaks as `<br/>`, other
    /// control characters dropped.
    static func narrativeDiv(_ text: String) -> String {
        var body = ""
        CDANarrative.escape(text, into: &body, breaks: true)
        return CDANarrative.div(body)
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
