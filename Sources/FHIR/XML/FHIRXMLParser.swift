import CLibXML2

/// Reads FHIR R4 XML into the JSON element model, driven by the type table.
///
/// Security is part of the codec: libxml2 runs with network access off and without entity substitution or DTD
/// loading, and any document type declaration is refused before its content is read, so XXE, billion-laughs and
/// quadratic-blowup documents fail with an error saying why. Depth, element count and size are limited.
public struct FHIRXMLParser: Sendable {
    public struct Limits: Sendable, Hashable {
        public var maxDepth = 100
        public var maxElements = 2_000_000
        public var maxBytes = 64 << 20
        public init() {}
    }

    public static let fhirNamespace = "http://hl7.org/fhir"
    public static let xhtmlNamespace = "http://www.w3.org/1999/xhtml"

    public var limits: Limits
    public var table: FHIRTypeTable

    public init(limits: Limits = .init(), table: FHIRTypeTable = .r4) {
        self.limits = limits
        self.table = table
    }

    /// Parses one resource (its root element names the resource type).
    public func parse(_ bytes: some Collection<UInt8>) throws(FHIRCodecError) -> JSONObject {
        try Self.withReader(Array(bytes), maxBytes: limits.maxBytes) { reader throws(FHIRCodecError) in
            var r = Reader(reader: reader, limits: limits, table: table)
            try r.moveToRoot()
            let resource = try r.readResource(path: "")
            try r.expectEnd()
            return resource
        }
    }

    /// Runs `body` with a libxml2 reader over `data`, opened the one safe way: no network, no DTD (refused before
    /// libxml2 sees the document), no CDATA nodes, errors as `FHIRCodecError`s. FHIR XML and the mapping engine's
    /// document trees both read through it.
    static func withReader<T>(
        _ data: [UInt8], maxBytes: Int, _ body: (xmlTextReaderPtr) throws(FHIRCodecError) -> T
    ) throws(FHIRCodecError) -> T {
        guard data.count <= maxBytes else { throw FHIRCodecError(reason: "the document is larger than \(maxBytes) bytes") }
        if let line = doctypeLine(data) {
            throw FHIRCodecError(
                line: line,
                reason: "document type declarations (DTDs) are not allowed: they enable external entities (XXE) and entity-expansion attacks")
        }
        let result: Result<T, FHIRCodecError> = data.withUnsafeBufferPointer { buf in
            let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue | XML_PARSE_NOCDATA.rawValue)
            guard
                let reader = buf.baseAddress.flatMap({ base in
                    base.withMemoryRebound(to: CChar.self, capacity: buf.count) { xmlReaderForMemory($0, Int32(buf.count), nil, nil, options) }
                })
            else {
                return .failure(FHIRCodecError(reason: "the document is empty"))
            }
            defer { xmlFreeTextReader(reader) }
            do throws(FHIRCodecError) {
                return .success(try body(reader))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// libxml2's last error as a `FHIRCodecError` (with its line), or a plain "malformed XML" at `line` when it recorded none.
    static func lastError(orAt line: Int?) -> FHIRCodecError {
        if let e = xmlGetLastError(), let message = e.pointee.message {
            var text = String(cString: message)
            while text.last == "\n" { text.removeLast() }
            return FHIRCodecError(line: Int(e.pointee.line) > 0 ? Int(e.pointee.line) : nil, reason: "malformed XML: \(text)")
        }
        return FHIRCodecError(line: line, reason: "malformed XML")
    }

    public func parse(_ text: String) throws(FHIRCodecError) -> JSONObject {
        try parse(Array(text.utf8))
    }

    /// The line of a `<!DOCTYPE` in the prolog (before the root element), found before libxml2 reads anything.
    static func doctypeLine(_ data: [UInt8]) -> Int? {
        let doctype = Array("<!DOCTYPE".utf8)
        var i = 0
        var line = 1
        let n = data.count
        while i < n {
            let b = data[i]
            if b == 0x0A { line += 1 }
            if b == UInt8(ascii: "<"), i + 1 < n {
                let next = data[i + 1]
                if next == UInt8(ascii: "?") || (next == UInt8(ascii: "!") && data[i...].starts(with: Array("<!--".utf8))) {
                    // A processing instruction or comment: skip to its end.
                    let end: [UInt8] = next == UInt8(ascii: "?") ? Array("?>".utf8) : Array("-->".utf8)
                    var j = i + 2
                    while j < n, !data[j...].starts(with: end) {
                        if data[j] == 0x0A { line += 1 }
                        j += 1
                    }
                    i = j + end.count
                    continue
                }
                if data[i...].starts(with: doctype) { return line }
                return nil
            }
            i += 1
        }
        return nil
    }

    struct Reader {
        let reader: xmlTextReaderPtr
        let limits: Limits
        let table: FHIRTypeTable
        var elements = 0

        /// An error at the current node's line (the parser itself may have read ahead).
        func error(_ reason: String, path: String? = nil) -> FHIRCodecError {
            var line = 0
            if let node = xmlTextReaderCurrentNode(reader) { line = Int(xmlGetLineNo(node)) }
            if line <= 0 { line = Int(xmlTextReaderGetParserLineNumber(reader)) }
            return FHIRCodecError(path: path, line: line > 0 ? line : nil, reason: reason)
        }

        /// Advances one node; refuses DTDs and entity references.
        mutating func read() throws(FHIRCodecError) -> Bool {
            let status = xmlTextReaderRead(reader)
            if status < 0 { throw malformed() }
            if status == 0 { return false }
            switch nodeType {
            case XML_READER_TYPE_DOCUMENT_TYPE:
                throw error("document type declarations (DTDs) are not allowed: they enable external entities (XXE) and entity-expansion attacks")
            case XML_READER_TYPE_ENTITY_REFERENCE, XML_READER_TYPE_ENTITY:
                throw error("entity references are not allowed")
            case XML_READER_TYPE_ELEMENT:
                elements += 1
                guard elements <= limits.maxElements else { throw error("more than \(limits.maxElements) elements") }
                guard depth <= limits.maxDepth else { throw error("elements nested deeper than \(limits.maxDepth)") }
            default:
                break
            }
            return true
        }

        func malformed() -> FHIRCodecError {
            FHIRXMLParser.lastError(orAt: error("malformed XML").line)
        }

        var nodeType: xmlReaderTypes { xmlReaderTypes(UInt32(xmlTextReaderNodeType(reader))) }
        var depth: Int { Int(xmlTextReaderDepth(reader)) }
        var localName: String { xmlTextReaderConstLocalName(reader).map { String(cString: $0) } ?? "" }
        var namespaceURI: String? { xmlTextReaderConstNamespaceUri(reader).map { String(cString: $0) } }
        var isEmptyElement: Bool { xmlTextReaderIsEmptyElement(reader) == 1 }
        var value: String? { xmlTextReaderConstValue(reader).map { String(cString: $0) } }

        /// Attributes of the current element, namespace declarations left out.
        func attributes() -> [(name: String, namespace: String?, value: String)] {
            var result: [(String, String?, String)] = []
            guard xmlTextReaderHasAttributes(reader) == 1 else { return [] }
            while xmlTextReaderMoveToNextAttribute(reader) == 1 {
                if xmlTextReaderIsNamespaceDecl(reader) == 1 { continue }
                result.append((localName, namespaceURI, value ?? ""))
            }
            xmlTextReaderMoveToElement(reader)
            return result
        }

        mutating func moveToRoot() throws(FHIRCodecError) {
            while try read() {
                switch nodeType {
                case XML_READER_TYPE_ELEMENT: return
                case XML_READER_TYPE_TEXT, XML_READER_TYPE_CDATA: throw error("text before the root element")
                default: continue
                }
            }
            throw error("the document has no root element")
        }

        mutating func expectEnd() throws(FHIRCodecError) {
            while try read() {
                switch nodeType {
                case XML_READER_TYPE_ELEMENT, XML_READER_TYPE_TEXT, XML_READER_TYPE_CDATA: throw error("content after the root element")
                default: continue
                }
            }
        }

        /// At the start tag of a resource element: reads it whole.
        mutating func readResource(path: String) throws(FHIRCodecError) -> JSONObject {
            let name = localName
            let here = path.isEmpty ? name : path + "/" + name
            guard namespaceURI == FHIRXMLParser.fhirNamespace else {
                throw error("a resource element must be in the namespace \(FHIRXMLParser.fhirNamespace)", path: here)
            }
            guard let type = table.type(name), type.kind == .resource else { throw error("'\(name)' is not a FHIR R4 resource type", path: here) }
            var object = JSONObject()
            object.appendUnchecked("resourceType", .string(name))
            try readComplexContent(type, into: &object, path: name)
            return object
        }

        /// At the start tag of an element of a complex type: attributes, then children, then the end tag.
        mutating func readComplexContent(
            _ type: FHIRTypeTable.TypeDefinition, into object: inout JSONObject, path: String, attributesRead: Bool = false
        ) throws(FHIRCodecError) {
            for attribute in attributesRead ? [] : attributes() {
                guard attribute.namespace == nil, let (element, _, _) = type.element(named: attribute.name), element.isAttribute else {
                    throw error("unexpected attribute '\(attribute.name)'", path: path)
                }
                object.appendUnchecked(attribute.name, .string(attribute.value))
            }
            if isEmptyElement { return }
            // Values gathered per JSON name, in order of first appearance, then laid out in definition order.
            var values: [String: [JSONValue]] = [:]
            var extras: [String: [JSONValue]] = [:]
            var order: [(name: String, index: Int)] = []
            let startDepth = depth
            while try read() {
                switch nodeType {
                case XML_READER_TYPE_END_ELEMENT where depth == startDepth:
                    try assemble(type, values: values, extras: extras, order: order, into: &object, path: path)
                    return
                case XML_READER_TYPE_ELEMENT:
                    let name = localName
                    let childPath = path + "." + name
                    guard let (element, elementIndex, childType) = type.element(named: name), !element.isAttribute else {
                        throw error("unknown element '\(name)'", path: path)
                    }
                    if values[name] == nil && extras[name] == nil { order.append((name, elementIndex)) }
                    if element.isXHTML {
                        guard namespaceURI == FHIRXMLParser.xhtmlNamespace else {
                            throw error("the narrative div must be in the namespace \(FHIRXMLParser.xhtmlNamespace)", path: childPath)
                        }
                        values[name, default: []].append(.string(try readDiv()))
                        continue
                    }
                    guard namespaceURI == FHIRXMLParser.fhirNamespace else {
                        throw error("element '\(name)' must be in the namespace \(FHIRXMLParser.fhirNamespace)", path: childPath)
                    }
                    if let primitive = table.primitives[childType] {
                        let (value, extra) = try readPrimitive(primitive, path: childPath)
                        values[name, default: []].append(value)
                        extras[name, default: []].append(extra)
                    } else if childType == "Resource" {
                        values[name, default: []].append(.object(try readResourceWrapper(path: childPath)))
                    } else if let complex = table.type(childType) {
                        var child = JSONObject()
                        try readComplexContent(complex, into: &child, path: childPath)
                        // FHIR has no empty elements (JSON cannot even say `{}`): one needs an id, a value or children.
                        guard child.count > 0 else { throw error("an element must have a value or children", path: childPath) }
                        values[name, default: []].append(.object(child))
                    } else {
                        throw error("no definition for the type '\(childType)'", path: childPath)
                    }
                case XML_READER_TYPE_TEXT, XML_READER_TYPE_CDATA:
                    throw error("text is not allowed here (FHIR XML carries values in 'value' attributes)", path: path)
                default:
                    continue
                }
            }
            throw error("the document ended inside an element", path: path)
        }

        /// `<contained>`, `<resource>`, `<outcome>`: a wrapper holding exactly one resource element.
        mutating func readResourceWrapper(path: String) throws(FHIRCodecError) -> JSONObject {
            guard attributes().isEmpty else { throw error("a resource wrapper has no attributes", path: path) }
            guard !isEmptyElement else { throw error("a resource wrapper must hold a resource", path: path) }
            let startDepth = depth
            var resource: JSONObject?
            while try read() {
                switch nodeType {
                case XML_READER_TYPE_END_ELEMENT where depth == startDepth:
                    guard let resource else { throw error("a resource wrapper must hold a resource", path: path) }
                    return resource
                case XML_READER_TYPE_ELEMENT:
                    guard resource == nil else { throw error("a resource wrapper holds one resource", path: path) }
                    resource = try readResource(path: path)
                case XML_READER_TYPE_TEXT, XML_READER_TYPE_CDATA:
                    throw error("text is not allowed here", path: path)
                default:
                    continue
                }
            }
            throw error("the document ended inside an element", path: path)
        }

        /// A primitive: `value` and `id` attributes, `extension` children. Returns the JSON value (or null) and the
        /// `_name` object (or null).
        mutating func readPrimitive(_ primitive: FHIRTypeTable.Primitive, path: String) throws(FHIRCodecError) -> (JSONValue, JSONValue) {
            var value: JSONValue = .null
            var extra = JSONObject()
            for attribute in attributes() {
                guard attribute.namespace == nil else { throw error("unexpected attribute '\(attribute.name)'", path: path) }
                switch attribute.name {
                case "value": value = try Self.jsonValue(attribute.value, primitive, path: path, reader: self)
                case "id": extra.appendUnchecked("id", .string(attribute.value))
                default: throw error("unexpected attribute '\(attribute.name)'", path: path)
                }
            }
            if !isEmptyElement {
                let element = table.type("Element")!
                var children = JSONObject()
                try readComplexContent(element, into: &children, path: path, attributesRead: true)
                for member in children.members where member.key != "id" {
                    extra.appendUnchecked(member.key, member.value)
                }
            }
            if value == .null && extra.count == 0 { throw error("a primitive element needs a value or an extension", path: path) }
            return (value, extra.count == 0 ? .null : .object(extra))
        }

        static func jsonValue(_ text: String, _ primitive: FHIRTypeTable.Primitive, path: String, reader: Reader) throws(FHIRCodecError) -> JSONValue
        {
            switch primitive.jsonKind {
            case .string:
                return .string(text)
            case .boolean:
                guard text == "true" || text == "false" else { throw reader.error("a boolean must be 'true' or 'false'", path: path) }
                return .bool(text == "true")
            case .number:
                guard FHIRPrimitiveFormat.isJSONNumber(text) else { throw reader.error("'\(primitive.name)' must be a number", path: path) }
                return .number(text)
            }
        }

        /// The xhtml div, written back as XHTML the way the specification's own serializer does: the source's
        /// element and attribute names and whitespace, text escaping `& < > "`, empty elements as `<br/>`,
        /// comments and processing instructions dropped.
        mutating func readDiv() throws(FHIRCodecError) -> String {
            var writer = XHTMLDivWriter()
            let startDepth = depth
            writer.node(reader)
            if isEmptyElement { return writer.text }
            while try read() {
                writer.node(reader)
                if nodeType == XML_READER_TYPE_END_ELEMENT && depth == startDepth { return writer.text }
            }
            throw error("the document ended inside the narrative div")
        }

        /// Lays the gathered values out in definition order: arrays where the element repeats, `_name` companions
        /// for primitives with an id or extensions (null where a repetition has none).
        func assemble(
            _ type: FHIRTypeTable.TypeDefinition, values: [String: [JSONValue]], extras: [String: [JSONValue]], order: [(name: String, index: Int)],
            into object: inout JSONObject, path: String
        ) throws(FHIRCodecError) {
            var usedElements = Set<Int>()
            for (name, index) in order.sorted(by: { $0.index < $1.index }) {
                let element = type.elements[index]
                guard usedElements.insert(index).inserted else {
                    throw error("only one of the choices of '\(element.name)[x]' may appear", path: path)
                }
                let vals = values[name] ?? []
                if !element.repeats && vals.count > 1 {
                    throw error("'\(name)' appears \(vals.count) times but may appear at most once", path: path)
                }
                if let exs = extras[name] {
                    let hasValue = vals.contains { $0 != .null }
                    let hasExtra = exs.contains { $0 != .null }
                    if hasValue { object.appendUnchecked(name, element.repeats ? .array(vals) : vals[0]) }
                    if hasExtra { object.appendUnchecked("_" + name, element.repeats ? .array(exs) : exs[0]) }
                } else {
                    object.appendUnchecked(name, element.repeats ? .array(vals) : vals[0])
                }
            }
        }
    }
}
