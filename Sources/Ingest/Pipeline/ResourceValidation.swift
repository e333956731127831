import FHIR
import Store

/// Mapped resources become writes only when they are valid FHIR R4; otherwise the message is dead-lettered with the
/// element paths at fault (never their values), so a mapping bug never stores invalid records.
enum ResourceValidation {
    static let validator = FHIRValidator()

    static func disposition(_ resources: [JSONObject], source: String, sourceReference: String?, mappingVersion: String?) -> Disposition {
        var writes: [ResourceWrite] = []
        writes.reserveCapacity(resources.count)
        for resource in resources {
            let errors = validator.validate(resource).filter { $0.severity == .error }
            if !errors.isEmpty {
                let paths = errors.prefix(5).map { "\($0.path) (\($0.code.rawValue))" }.joined(separator: ", ")
                return .deadLetter(reason: "mapped \(resource["resourceType"]?.stringValue ?? "resource") is not valid FHIR R4 at \(paths)")
            }
            do {
                writes.append(try ResourceWrite(resource: resource, source: source, sourceReference: sourceReference, mappingVersion: mappingVersion))
            } catch {
                return .deadLetter(reason: error.description)
            }
        }
        return .accept(writes)
    }
}
