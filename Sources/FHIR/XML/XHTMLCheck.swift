import CLibXML2

/// Writes an XHTML narrative the way the specification's serializer does, node by node from a libxml2 reader: the
/// source's element and attribute names and white space, `& < > "` escaped in text and attribute values, empty
/// elements as `<br/>`, comments and processing instructions dropped. Both readers use it, so a narrative has one
/// form whether it arrived in XML or JSON (and so one record hash).
struct XHTMLDivWriter {
    private var out: [UInt8] = []

    var text: String { String(decoding: out, as: UTF8.self) }

    mutating func node(_ reader: xmlTextReaderPtr) {
        switch xmlReaderTypes(UInt32(xmlTextReaderNodeType(reader))) {
        case XML_READER_TYPE_ELEMENT:
            out.append(UInt8(ascii: "<"))
            out += Array(Self.qualifiedName(reader).utf8)
            if xmlTextReaderHasAttributes(reader) == 1 {
                while xmlTextReaderMoveToNextAttribute(reader) == 1 {
                    out.append(0x20)
                    out += Array(Self.qualifiedName(reader).utf8)
                    out += Array("=\"".utf8)
                    Self.escape(xmlTextReaderConstValue(reader).map { String(cString: $0) } ?? "", into: &out)
                    out.append(UInt8(ascii: "\""))
                }
                xmlTextReaderMoveToElement(reader)
            }
            out += Array((xmlTextReaderIsEmptyElement(reader) == 1 ? "/>" : ">").utf8)
        case XML_READER_TYPE_END_ELEMENT:
            out += Array("</\(Self.qualifiedName(reader))>".utf8)
        case XML_READER_TYPE_TEXT, XML_READER_TYPE_CDATA, XML_READER_TYPE_WHITESPACE, XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
            Self.escape(xmlTextReaderConstValue(reader).map { String(cString: $0) } ?? "", into: &out)
        default:
            break
        }
    }

    static func qualifiedName(_ reader: xmlTextReaderPtr) -> String {
        xmlTextReaderConstName(reader).map { String(cString: $0) } ?? ""
    }

    /// `& < > "` as entity references; with `whiteSpaceAsReferences`, tab, LF and CR as character references too.
    static func escape(_ text: String, into out: inout [UInt8], whiteSpaceAsReferences: Bool = false) {
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "&"): out += Array("&amp;".utf8)
            case UInt8(ascii: "<"): out += Array("&lt;".utf8)
            case UInt8(ascii: ">"): out += Array("&gt;".utf8)
            case UInt8(ascii: "\""): out += Array("&quot;".utf8)
            case 0x09 where whiteSpaceAsReferences: out += Array("&#9;".utf8)
            case 0x0A where whiteSpaceAsReferences: out += Array("&#10;".utf8)
            case 0x0D where whiteSpaceAsReferences: out += Array("&#13;".utf8)
            default: out.append(b)
            }
        }
    }
}

/// Reads a narrative `div` as JSON carries it: it must be one well-formed XHTML `div` element (read with the same
/// hardened settings as FHIR XML: no DTD, no entities, no network), and it is rewritten in the serializer's form.
enum XHTMLCheck {
    /// `nil` when the text is a well-formed `<div xmlns="http://www.w3.org/1999/xhtml">…</div>`, else why not.
    static func problem(in div: String) -> String? {
        switch normalize(div) {
        case .success: nil
        case .failure(let problem): problem.reason
        }
    }

    struct Problem: Error { var reason: String }

    /// The div in the serializer's form, or why it is not a well-formed XHTML div.
    static func normalize(_ div: String) -> Result<String, Problem> {
        if let problem = preliminary(div) { return .failure(Problem(reason: problem)) }
        let bytes = Array(div.utf8)
        return bytes.withUnsafeBufferPointer { buf -> Result<String, Problem> in
            let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue | XML_PARSE_NOCDATA.rawValue)
            guard
                let reader = buf.baseAddress.flatMap({ base in
                    base.withMemoryRebound(to: CChar.self, capacity: buf.count) { xmlReaderForMemory($0, Int32(buf.count), nil, "UTF-8", options) }
                })
            else { return .failure(Problem(reason: "the narrative div is empty")) }
            defer { xmlFreeTextReader(reader) }
            var writer = XHTMLDivWriter()
            var sawRoot = false
            while true {
                let status = xmlTextReaderRead(reader)
                if status < 0 { return .failure(Problem(reason: "the narrative div is not well-formed XHTML")) }
                if status == 0 { break }
                let type = xmlReaderTypes(UInt32(xmlTextReaderNodeType(reader)))
                let depth = xmlTextReaderDepth(reader)
                switch type {
                case XML_READER_TYPE_DOCUMENT_TYPE, XML_READER_TYPE_ENTITY_REFERENCE, XML_READER_TYPE_ENTITY:
                    return .failure(Problem(reason: "the narrative div must not use entities or a document type declaration"))
                case XML_READER_TYPE_ELEMENT where depth == 0:
                    let name = xmlTextReaderConstLocalName(reader).map { String(cString: $0) }
                    let ns = xmlTextReaderConstNamespaceUri(reader).map { String(cString: $0) }
                    guard !sawRoot, name == "div", ns == FHIRXMLParser.xhtmlNamespace else {
                        return .failure(Problem(reason: "the narrative must be one <div> element in the namespace \(FHIRXMLParser.xhtmlNamespace)"))
                    }
                    sawRoot = true
                    writer.node(reader)
                case XML_READER_TYPE_TEXT where depth == 0, XML_READER_TYPE_CDATA where depth == 0:
                    return .failure(Problem(reason: "the narrative div must be one element, with nothing around it"))
                default:
                    if depth > 0 || type == XML_READER_TYPE_END_ELEMENT { writer.node(reader) }
                }
            }
            return sawRoot ? .success(writer.text) : .failure(Problem(reason: "the narrative div must be an XHTML <div> element"))
        }
    }

    private static func preliminary(_ div: String) -> String? {
        let bytes = Array(div.utf8)
        if FHIRXMLParser.doctypeLine(bytes) != nil { return "the narrative div must not contain a document type declaration" }
        let first = bytes.first { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }
        guard first == UInt8(ascii: "<"), !bytes.starts(with: Array("<?".utf8)) else { return "the narrative div must be an XHTML <div> element" }
        return nil
    }
}
