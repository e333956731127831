import CLibXML2

/// Checks that a narrative `div` (as JSON carries it) is one well-formed XHTML `div` element, read with the same
/// hardened settings as FHIR XML (no DTD, no entities, no network), so it can be written into XML as it stands.
enum XHTMLCheck {
    /// `nil` when the text is a well-formed `<div xmlns="http://www.w3.org/1999/xhtml">…</div>`, else why not.
    static func problem(in div: String) -> String? {
        let bytes = Array(div.utf8)
        if FHIRXMLParser.doctypeLine(bytes) != nil { return "the narrative div must not contain a document type declaration" }
        let first = bytes.first { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }
        guard first == UInt8(ascii: "<"), !bytes.starts(with: Array("<?".utf8)) else { return "the narrative div must be an XHTML <div> element" }
        return bytes.withUnsafeBufferPointer { buf -> String? in
            let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue)
            guard let reader = buf.baseAddress.flatMap({ base in
                base.withMemoryRebound(to: CChar.self, capacity: buf.count) { xmlReaderForMemory($0, Int32(buf.count), nil, "UTF-8", options) }
            }) else { return "the narrative div is empty" }
            defer { xmlFreeTextReader(reader) }
            var sawRoot = false
            while true {
                let status = xmlTextReaderRead(reader)
                if status < 0 { return "the narrative div is not well-formed XHTML" }
                if status == 0 { break }
                let type = xmlReaderTypes(UInt32(xmlTextReaderNodeType(reader)))
                switch type {
                case XML_READER_TYPE_DOCUMENT_TYPE, XML_READER_TYPE_ENTITY_REFERENCE, XML_READER_TYPE_ENTITY:
                    return "the narrative div must not use entities or a document type declaration"
                case XML_READER_TYPE_ELEMENT where xmlTextReaderDepth(reader) == 0:
                    let name = xmlTextReaderConstLocalName(reader).map { String(cString: $0) }
                    let ns = xmlTextReaderConstNamespaceUri(reader).map { String(cString: $0) }
                    guard !sawRoot, name == "div", ns == FHIRXMLParser.xhtmlNamespace else {
                        return "the narrative must be one <div> element in the namespace \(FHIRXMLParser.xhtmlNamespace)"
                    }
                    sawRoot = true
                case XML_READER_TYPE_TEXT where xmlTextReaderDepth(reader) == 0, XML_READER_TYPE_CDATA where xmlTextReaderDepth(reader) == 0:
                    return "the narrative div must be one element, with nothing around it"
                default:
                    continue
                }
            }
            return sawRoot ? nil : "the narrative div must be an XHTML <div> element"
        }
    }
}
