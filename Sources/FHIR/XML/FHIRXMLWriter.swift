/// Writes the JSON element model as FHIR R4 XML, in definition order, driven by the type table: `value`, `id` and
/// `url` attributes, primitive extensions from the `_name` companions, the xhtml div as written, two-space indent.
public struct FHIRXMLWriter: Sendable {
    public var table: FHIRTypeTable
    public var indent: Bool

    public init(table: FHIRTypeTable = .r4, indent: Bool = true) {
        self.table = table
        self.indent = indent
    }

    public func write(_ resource: JSONObject) throws(FHIRCodecError) -> [UInt8] {
        var out: [UInt8] = Array("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n".utf8)
        try writeResource(resource, to: &out, depth: 0, root: true, path: "")
        out.append(0x0A)
        return out
    }

    public func string(_ resource: JSONObject) throws(FHIRCodecError) -> String {
        String(decoding: try write(resource), as: UTF8.self)
    }

    private func writeResource(_ resource: JSONObject, to out: inout [UInt8], depth: Int, root: Bool, path: String) throws(FHIRCodecError) {
        guard let name = resource["resourceType"]?.stringValue else {
            throw FHIRCodecError(path: path.isEmpty ? nil : path, reason: "a resource needs a 'resourceType'")
        }
        guard let type = table.type(name), type.kind == .resource else {
            throw FHIRCodecError(path: path.isEmpty ? nil : path, reason: "'\(name)' is not a FHIR R4 resource type")
        }
        let here = path.isEmpty ? name : path + "/" + name
        newline(&out, depth)
        out += Array("<\(name)".utf8)
        if root { out += Array(" xmlns=\"\(FHIRXMLParser.fhirNamespace)\"".utf8) }
        try writeContent(resource, type: type, elementName: name, to: &out, depth: depth, path: here, skip: ["resourceType"])
    }

    /// Attributes, then children (or `/>`), then the end tag of an element whose start tag is open.
    private func writeContent(
        _ object: JSONObject, type: FHIRTypeTable.TypeDefinition, elementName: String, to out: inout [UInt8], depth: Int, path: String,
        skip: Set<String> = []
    ) throws(FHIRCodecError) {
        var known = skip
        for element in type.elements where element.isAttribute {
            known.insert(element.name)
            if let value = object[element.name] {
                guard case .string(let text) = value else { throw FHIRCodecError(path: path + "." + element.name, reason: "must be a string") }
                out += Array(" \(element.name)=\"".utf8)
                escape(text, into: &out)
                out.append(UInt8(ascii: "\""))
            }
        }
        var body: [UInt8] = []
        for element in type.elements where !element.isAttribute {
            let names = element.isChoice ? element.types.map { element.name + FHIRTypeTable.capitalized($0) } : [element.name]
            for (k, key) in names.enumerated() {
                known.insert(key)
                known.insert("_" + key)
                let value = object[key], extra = object["_" + key]
                guard value != nil || extra != nil else { continue }
                let typeName = element.isChoice ? element.types[k] : (element.types.first ?? "")
                try writeElement(
                    key, value: value, extra: extra, element: element, typeName: typeName, to: &body, depth: depth + 1, path: path + "." + key)
            }
        }
        if let unknown = object.keys.first(where: { !known.contains($0) }) {
            throw FHIRCodecError(path: path, reason: "unknown element '\(unknown)'")
        }
        if body.isEmpty {
            out += Array("/>".utf8)
        } else {
            out.append(UInt8(ascii: ">"))
            out += body
            newline(&out, depth)
            out += Array("</\(elementName)>".utf8)
        }
    }

    private func writeElement(
        _ name: String, value: JSONValue?, extra: JSONValue?, element: FHIRTypeTable.Element, typeName: String, to out: inout [UInt8],
        depth: Int, path: String
    ) throws(FHIRCodecError) {
        let values: [JSONValue?]
        let extras: [JSONValue?]
        if element.repeats {
            let v = try value.map { (v) throws(FHIRCodecError) -> [JSONValue] in
                guard case .array(let a) = v else { throw FHIRCodecError(path: path, reason: "must be an array") }
                return a
            }
            let e = try extra.map { (v) throws(FHIRCodecError) -> [JSONValue] in
                guard case .array(let a) = v else { throw FHIRCodecError(path: "_" + path, reason: "must be an array") }
                return a
            }
            let count = max(v?.count ?? 0, e?.count ?? 0)
            if let v, let e, v.count != e.count { throw FHIRCodecError(path: path, reason: "'\(name)' and '_\(name)' must have the same length") }
            values = (0..<count).map { i in v.map { $0[i] } }
            extras = (0..<count).map { i in e.map { $0[i] } }
        } else {
            values = [value]
            extras = [extra]
        }
        for (v, e) in zip(values, extras) {
            let v = v == .null ? nil : v
            let e = e == .null ? nil : e
            if element.isXHTML {
                guard case .string(let div)? = v else { throw FHIRCodecError(path: path, reason: "the narrative div must be a string of XHTML") }
                newline(&out, depth)
                out += Array(div.utf8)
            } else if let primitive = table.primitives[typeName] {
                try writePrimitive(name, value: v, extra: e, primitive: primitive, to: &out, depth: depth, path: path)
            } else if typeName == "Resource" {
                guard case .object(let resource)? = v else { throw FHIRCodecError(path: path, reason: "must be a resource object") }
                newline(&out, depth)
                out += Array("<\(name)>".utf8)
                try writeResource(resource, to: &out, depth: depth + 1, root: false, path: path)
                newline(&out, depth)
                out += Array("</\(name)>".utf8)
            } else if let complex = table.type(typeName) {
                guard case .object(let object)? = v else { throw FHIRCodecError(path: path, reason: "must be an object") }
                newline(&out, depth)
                out += Array("<\(name)".utf8)
                try writeContent(object, type: complex, elementName: name, to: &out, depth: depth, path: path)
            } else {
                throw FHIRCodecError(path: path, reason: "no definition for the type '\(typeName)'")
            }
        }
    }

    private func writePrimitive(
        _ name: String, value: JSONValue?, extra: JSONValue?, primitive: FHIRTypeTable.Primitive, to out: inout [UInt8], depth: Int, path: String
    ) throws(FHIRCodecError) {
        newline(&out, depth)
        out += Array("<\(name)".utf8)
        var extras: JSONObject?
        if let extra {
            guard case .object(let e) = extra else { throw FHIRCodecError(path: "_" + path, reason: "must be an object") }
            if let id = e["id"] {
                guard case .string(let text) = id else { throw FHIRCodecError(path: "_" + path + ".id", reason: "must be a string") }
                out += Array(" id=\"".utf8)
                escape(text, into: &out)
                out.append(UInt8(ascii: "\""))
            }
            extras = e
        }
        if let value {
            let text: String
            switch (value, primitive.jsonKind) {
            case (.string(let s), .string): text = s
            case (.bool(let b), .boolean): text = b ? "true" : "false"
            case (.number(let n), .number): text = n
            default: throw FHIRCodecError(path: path, reason: "a \(primitive.name) must be a JSON \(primitive.jsonKind.rawValue)")
            }
            if text.utf8.contains(where: { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) {
                throw FHIRCodecError(path: path, reason: "control characters other than tab, line feed and carriage return cannot be written in XML")
            }
            out += Array(" value=\"".utf8)
            escape(text, into: &out)
            out.append(UInt8(ascii: "\""))
        }
        if var extras, extras.keys.contains(where: { $0 != "id" }) {
            // The id was written above; the rest are the primitive's extensions.
            extras["id"] = nil
            try writeContent(extras, type: table.type("Element")!, elementName: name, to: &out, depth: depth, path: "_" + path)
        } else {
            out += Array("/>".utf8)
        }
    }

    private func newline(_ out: inout [UInt8], _ depth: Int) {
        guard indent else { return }
        if out.last != 0x0A { out.append(0x0A) }
        for _ in 0..<depth { out += [0x20, 0x20] }
    }

    /// Attribute text: `& < > "`, and tab, line feed and carriage return as references so that XML's attribute
    /// normalisation keeps them.
    private func escape(_ text: String, into out: inout [UInt8]) {
        XHTMLDivWriter.escape(text, into: &out, whiteSpaceAsReferences: true)
    }
}
