import Testing

@testable import FHIR

@Suite("Validation")
struct ValidationTests {
    static func issues(_ json: String) throws -> [String] {
        FHIRValidator().validate(try FHIRJSON().parse(json)).map(\.description)
    }

    @Test("required elements and cardinality, with element paths")
    func required() throws {
        #expect(try Self.issues(#"{"resourceType":"Observation","code":{"text":"x"}}"#) == ["Observation.status: 'status' is required (min 1)"])
        #expect(
            try Self.issues(
                #"{"resourceType":"Observation","status":"final","code":{"text":"x"},"referenceRange":[{"low":{"value":1}}],"component":[{"valueString":"a"}]}"#
            )
                == ["Observation.component[0].code: 'code' is required (min 1)"])
        #expect(try Self.issues(#"{"resourceType":"Patient","link":[{"type":"seealso"}]}"#) == ["Patient.link[0].other: 'other' is required (min 1)"])
    }

    @Test(
        "primitive formats",
        arguments: [
            (#"{"resourceType":"Patient","birthDate":"1970-13-01"}"#, "Patient.birthDate: not a valid date"),
            (#"{"resourceType":"Patient","id":"has space"}"#, "Patient.id: not a valid id"),
            (#"{"resourceType":"Patient","language":" en"}"#, "Patient.language: not a valid code"),
            (#"{"resourceType":"Patient","deceasedDateTime":"2020-01-01T10:00:00"}"#, "Patient.deceasedDateTime: not a valid dateTime"),
            (#"{"resourceType":"Patient","implicitRules":"http://x y"}"#, "Patient.implicitRules: not a valid uri"),
            (#"{"resourceType":"Patient","photo":[{"data":"abc"}]}"#, "Patient.photo[0].data: not a valid base64Binary"),
            (#"{"resourceType":"Patient","multipleBirthInteger":3000000000}"#, "Patient.multipleBirthInteger: not a valid integer"),
            (#"{"resourceType":"Patient","meta":{"lastUpdated":"2020-01-01"}}"#, "Patient.meta.lastUpdated: not a valid instant"),
            (#"{"resourceType":"Patient","name":[{"family":""}]}"#, "Patient.name[0].family: a string must not be empty"),
        ])
    func formats(_ json: String, _ expected: String) throws {
        #expect(try Self.issues(json) == [expected])
    }

    @Test(
        "valid values pass",
        arguments: [
            #"{"resourceType":"Patient","birthDate":"1970","deceasedDateTime":"2020-02-29T23:59:60.123+14:00","photo":[{"data":"YWJj ZA=="}],"meta":{"lastUpdated":"2020-01-01T00:00:00Z"},"managingOrganization":{"reference":"urn:uuid:6f1c4e3a-1b7d-4c55-9f0e-3c6c2f1b2a10"}}"#,
            #"{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"urn:oid:2.16.840.1.113883.6.1","code":"1234-5"}]},"valueQuantity":{"value":-0.50e+2}}"#,
        ])
    func valid(_ json: String) throws {
        #expect(try Self.issues(json) == [])
    }

    @Test("an OperationOutcome carries each issue with its path")
    func outcome() throws {
        let issues = FHIRValidator().validate(try FHIRJSON().parse(#"{"resourceType":"Observation","code":{"text":"x"}}"#))
        let oo = FHIRValidator.operationOutcome(issues)
        #expect(try FHIRValidator().validate(oo).isEmpty)
        let text = String(decoding: JSONWriter().write(.object(oo)), as: UTF8.self)
        #expect(
            text
                == #"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"required","diagnostics":"'status' is required (min 1)","expression":["Observation.status"]}]}"#
        )
    }

    /// The hand-written format checks against the specification's own regular expressions (compiled here, in a test).
    @Test(
        "primitive checks agree with the specification's regular expressions",
        arguments: [
            "date", "dateTime", "instant", "time", "id", "code", "oid", "uuid", "base64Binary", "integer", "unsignedInt", "positiveInt", "decimal",
            "uri",
        ])
    func agreesWithRegex(_ type: String) throws {
        let pattern = try #require(FHIRTypeTable.r4.primitives[type]?.pattern)
        let regex = try Regex(pattern)
        for sample in Self.samples {
            let byRegex = (try? regex.wholeMatch(in: sample)) != nil
            var ours = FHIRPrimitiveFormat.isValid(sample, as: type)
            // The regexes do not check 32-bit ranges; ours do.
            if ["integer", "unsignedInt", "positiveInt"].contains(type), byRegex, !ours, sample.count >= 10 { ours = true }
            #expect(ours == byRegex, "\(type) '\(sample)': ours \(ours), regex \(byRegex)")
        }
    }

    static let samples: [String] = [
        "", " ", "1970", "1970-01", "1970-01-01", "1970-1-01", "0000", "1970-00", "1970-12-32", "1970-02-30", "2020-01-01T10:00:00Z",
        "2020-01-01T10:00:00.5+01:00", "2020-01-01T10:00:00", "2020-01-01T24:00:00Z", "2020-01-01T10:00Z", "2020-01-01T10:00:00+14:00",
        "2020-01-01T10:00:00+14:30", "10:00:00", "23:59:60.999", "24:00:00", "abc", "a-b.c", String(repeating: "a", count: 64),
        String(repeating: "a", count: 65), "a b", "a  b", " a", "a ", "a\tb", "urn:oid:1.2.3", "urn:oid:3.1", "urn:oid:1.02",
        "urn:uuid:6f1c4e3a-1b7d-4c55-9f0e-3c6c2f1b2a10", "urn:uuid:6F1C4E3A-1B7D-4C55-9F0E-3C6C2F1B2A10", "YWJj", "YWJ", "YW Jj",
        "0", "-0", "01", "1", "-1", "1.5", "1.", ".5", "1e5", "1E-5", "-12.50", "2147483647", "2147483648", "http://x", "http://x y",
    ]
}

extension ValidationTests {
    /// The specification's own examples are valid, except the generated `*-questionnaire` examples, whose items
    /// leave out the required `linkId` (min 1 in R4).
    @Test("every specification example validates", arguments: FHIRFixtures.pairs)
    func specificationExample(_ pair: ExamplePair) throws {
        let errors = FHIRValidator().validate(try FHIRJSON().parse(pair.json)).filter { $0.severity == .error }
        if pair.name.hasSuffix("-questionnaire") {
            #expect(errors.allSatisfy { $0.message == "'linkId' is required (min 1)" }, "\(errors.prefix(3))")
        } else {
            #expect(errors.isEmpty, "\(errors.prefix(3))")
        }
    }

    @Test("required bindings: codes outside the value set are errors")
    func requiredBinding() throws {
        #expect(
            try Self.issues(#"{"resourceType":"Patient","gender":"F"}"#)
                == ["Patient.gender: not a code of the required value set (female, male, other, unknown)"])
        #expect(
            try Self.issues(#"{"resourceType":"Patient","telecom":[{"system":"phone","use":"HOME"}]}"#)
                == ["Patient.telecom[0].use: not a code of the required value set (home, mobile, old, temp, work)"])
        #expect(try Self.issues(#"{"resourceType":"Patient","gender":"female","telecom":[{"system":"phone","use":"home"}]}"#) == [])
    }
}
