import FHIR

/// Interim mapping of legacy table rows (until issue #4's mapping files): a row of a patients table becomes a Patient.
///
/// Columns are matched by conventional names: `mrn` (or `patient_id`), `family_name`/`last_name`, `given_name`/
/// `first_name`, `birth_date`/`dob` (ISO date), `sex`/`gender` (M/F/O/U or FHIR codes), `phone`, `city`, `postal_code`.
/// The identifier's namespace is the source's configured name, so ids are stable per source.
extension CoreV2Mapping {
    public func map(row: [String: String], table: String, context: MappingContext) throws(MappingError) -> [JSONObject] {
        func column(_ names: String...) -> String? { names.lazy.compactMap { nonEmpty(row[$0]) }.first }
        guard let mrn = column("mrn", "patient_id", "medical_record_number") else {
            throw MappingError(
                .unmappedType, location: "table \(table)",
                reason: "no mapping for rows of this table (the built-in row mapping needs an mrn or patient_id column)")
        }
        var patient = JSONObject()
        patient["resourceType"] = .string("Patient")
        patient["id"] = .string(StableID.make(type: "Patient", namespace: context.sender, value: mrn))
        patient["identifier"] = .array([
            .object(JSONObject([("value", .string(mrn)), ("assigner", .object(JSONObject([("display", .string(context.sender))])))]))
        ])
        var name = JSONObject()
        if let family = column("family_name", "last_name", "surname") { name["family"] = .string(family) }
        if let given = column("given_name", "first_name") { name["given"] = .array([.string(given)]) }
        if name.count > 0 { patient["name"] = .array([.object(name)]) }
        if let phone = column("phone", "telephone") {
            patient["telecom"] = .array([.object(JSONObject([("system", .string("phone")), ("value", .string(phone))]))])
        }
        if let sex = column("sex", "gender") {
            let fhir = ["male", "female", "other", "unknown"].contains(sex.lowercased()) ? sex.lowercased() : Self.gender[sex.uppercased()]
            patient["gender"] = .string(fhir ?? "unknown")
        }
        if let birth = column("birth_date", "dob", "date_of_birth") {
            let date = String(birth.prefix(10))
            guard FHIRValidator.isValidPrimitive(date, type: "date") else {
                throw MappingError(.invalidValue, location: "column birth_date", reason: "not an ISO date")
            }
            patient["birthDate"] = .string(date)
        }
        var address = JSONObject()
        if let city = column("city") { address["city"] = .string(city) }
        if let postal = column("postal_code", "zip") { address["postalCode"] = .string(postal) }
        if address.count > 0 { patient["address"] = .array([.object(address)]) }
        return [patient]
    }
}
