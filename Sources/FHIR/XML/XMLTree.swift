import CLibXML2

/// A small read-only element tree of an XML document (C-CDA and other exports the mapping engine reads by path),
/// parsed as safely as FHIR XML: no network, no DTD, no entities, bounded size, element count and depth.
public final class XMLElement: Sendable {
    /// The local name (namespace prefixes dropped: C-CDA's `hl7:` and default namespaces read the same).
    public let name: String
    public let attributes: [(name: String, value: String)]
    public let children: [XMLElement]
    /// The text directly inside, concatenated (CDATA included).
    public let text: String
    /// The same text in its runs, each with the number of child elements before it: mixed content in document order
    /// (a CDA narrative's `Take <content>two</content> daily`).
    public let runs: [(children: Int, text: String)]
    public let line: Int

    init(
        name: String, attributes: [(name: String, value: String)], children: [XMLElement], text: String,
        runs: [(children: Int, text: String)] = [], line: Int
    ) {
        self.name = name
        self.attributes = attributes
        self.children = children
        self.text = text
        self.runs = runs
        self.line = line
    }

    public func attribute(_ name: String) -> String? { attributes.first { $0.name == name }?.value }

    /// Text of this element and everything inside it, in document order (for narrative-like content).
    public var allText: String { text + children.map(\.allText).joined() }
}

public enum XMLTree {
    public struct Limits: Sendable {
        public var maxBytes = 64 << 20
        public var maxElements = 2_000_000
        public var maxDepth = 200
        public init() {}
    }

    /// Parses a document; a DTD, an entity, or malformed XML is a `FHIRCodecError` with its line.
    public static func parse(_ bytes: some Collection<UInt8>, limits: Limits = Limits()) throws(FHIRCodecError) -> XMLElement {
        try FHIRXMLParser.withReader(Array(bytes), maxBytes: limits.maxBytes) { reader throws(FHIRCodecError) in
            try build(reader, limits: limits)
        }
    }

    private final class Builder {
        var name: String
        var attributes: [(name: String, value: String)]
        var children: [XMLElement] = []
        var runs: [(children: Int, text: String)] = []
        var line: Int

        init(name: String, attributes: [(name: String, value: String)], line: Int) {
            self.name = name
            self.attributes = attributes
            self.line = line
        }

        func add(_ t: String) {
            if let last = runs.last, last.children == children.count {
                runs[runs.count - 1].text += t
            } else {
                runs.append((children.count, t))
            }
        }

        /// The element, its `text` the runs joined (most elements have one run or none).
        func finish() -> XMLElement {
            let text = runs.count == 1 ? runs[0].text : runs.map(\.text).joined()
            return XMLElement(name: name, attributes: attributes, children: children, text: text, runs: runs, line: line)
        }
    }

    private static func build(_ reader: xmlTextReaderPtr, limits: Limits) throws(FHIRCodecError) -> XMLElement {
        var stack: [Builder] = []
        var root: XMLElement? = nil
        var elements = 0
        func line() -> Int {
            if let node = xmlTextReaderCurrentNode(reader) { return Int(xmlGetLineNo(node)) }
            return Int(xmlTextReaderGetParserLineNumber(reader))
        }
        func string(_ p: UnsafePointer<xmlChar>?) -> String { p.map { String(cString: $0) } ?? "" }
        func close() {
            guard let b = stack.popLast() else { return }
            let element = b.finish()
            if let parent = stack.last { parent.children.append(element) } else { root = element }
        }
        while true {
            let status = xmlTextReaderRead(reader)
            if status < 0 { throw FHIRXMLParser.lastError(orAt: line()) }
            if status == 0 { break }
            switch xmlReaderTypes(UInt32(xmlTextReaderNodeType(reader))) {
            case XML_READER_TYPE_DOCUMENT_TYPE:
                throw FHIRCodecError(line: line(), reason: "document type declarations (DTDs) are not allowed")
            case XML_READER_TYPE_ENTITY_REFERENCE, XML_READER_TYPE_ENTITY:
                throw FHIRCodecError(line: line(), reason: "entity references are not allowed")
            case XML_READER_TYPE_ELEMENT:
                elements += 1
                guard elements <= limits.maxElements else { throw FHIRCodecError(line: line(), reason: "more than \(limits.maxElements) elements") }
                guard Int(xmlTextReaderDepth(reader)) <= limits.maxDepth else {
                    throw FHIRCodecError(line: line(), reason: "elements nested deeper than \(limits.maxDepth)")
                }
                let name = string(xmlTextReaderConstLocalName(reader))
                let empty = xmlTextReaderIsEmptyElement(reader) == 1
                var attributes: [(String, String)] = []
                let elementLine = line()
                if xmlTextReaderHasAttributes(reader) == 1 {
                    while xmlTextReaderMoveToNextAttribute(reader) == 1 {
                        let attributeName = string(xmlTextReaderConstLocalName(reader))
                        let prefix = string(xmlTextReaderConstPrefix(reader))
                        if prefix == "xmlns" || attributeName == "xmlns" { continue }
                        attributes.append((attributeName, string(xmlTextReaderConstValue(reader))))
                    }
                    xmlTextReaderMoveToElement(reader)
                }
                stack.append(Builder(name: name, attributes: attributes, line: elementLine))
                if empty { close() }
            case XML_READER_TYPE_END_ELEMENT:
                close()
            case XML_READER_TYPE_TEXT, XML_READER_TYPE_CDATA, XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
                stack.last?.add(string(xmlTextReaderConstValue(reader)))
            default:
                break
            }
        }
        guard let root else { throw FHIRCodecError(reason: "the document has no root element") }
        return root
    }
}
