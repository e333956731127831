// libFuzzer entry point for the FHIR readers and writers. Built by scripts/fuzz.sh.
// Input starting with '<' is read as XML, anything else as JSON. Whatever is accepted must write back as XML and
// JSON and read again to the same resource.

@_cdecl("LLVMFuzzerTestOneInput")
public func fhirFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    var limits = FHIRXMLParser.Limits()
    limits.maxElements = 20_000
    let resource: JSONObject
    do {
        if input.first == UInt8(ascii: "<") {
            resource = try FHIRXMLParser(limits: limits).parse(input)
        } else {
            resource = try FHIRJSON().parse(input)
        }
    } catch {
        return 0
    }
    _ = FHIRValidator().validate(resource)
    _ = JSONWriter(style: .canonical).write(.object(resource))
    if let bundle = try? FHIRBundle(resource) { _ = bundle.references() }
    // JSON written by us reads back to the same resource.
    guard let again = try? FHIRJSON().parse(FHIRJSON().write(resource)), again == resource else {
        fatalError("JSON does not read back")
    }
    // If we can write it as XML, that XML reads back to the same values.
    if let xml = try? FHIRXMLWriter().write(resource) {
        guard let back = try? FHIRXMLParser().parse(xml), JSONValue.object(back).isEquivalent(to: .object(resource)) else {
            fatalError("XML does not read back")
        }
    }
    return 0
}
