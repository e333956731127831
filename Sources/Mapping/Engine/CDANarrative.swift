import FHIR

/// A CDA narrative block (a section's `<text>`) as the XHTML div of a FHIR Narrative: CDA's elements become their XHTML
/// counterparts, in document order with the text between them.
///
/// - `paragraph` → `p`, `content` → `span`, `br`, `sub`, `sup`; `list` → `ul` (or `ol` when `listType="ordered"`),
///   its `caption` a `p` before it, `item` → `li`; the table elements as they are, with their span and alignment.
/// - `linkHtml` → `a` when its `href` is http(s), mailto or a fragment (anything else would be active content, which
///   FHIR's narrative does not allow), else a `span`.
/// - `ID` → `id` (entries point at their text by it); `styleCode` Bold, Italics, Underline and Emphasis → `style`.
/// - `footnoteRef` and `renderMultiMedia` (a pointer to an observation media entry) give nothing; any other element
///   gives its content without a tag.
enum CDANarrative {
    /// The div, or nil when the block has no text.
    static func xhtml(_ element: XMLElement) -> String? {
        guard element.allText.contains(where: { !$0.isWhitespace }) else { return nil }
        var body = ""
        content(of: element, into: &body)
        return div(body)
    }

    private static let tables: Set<String> = ["table", "thead", "tbody", "tfoot", "tr", "th", "td", "colgroup", "col", "caption"]
    private static let tableAttributes: Set<String> = ["colspan", "rowspan", "align", "valign", "span"]
    private static let styles: [String: String] = [
        "Bold": "font-weight: bold", "Italics": "font-style: italic", "Underline": "text-decoration: underline",
        "Emphasis": "font-style: italic",
    ]

    /// The element's text runs and children, interleaved as written.
    private static func content(of element: XMLElement, into out: inout String) {
        var run = 0
        for (i, child) in element.children.enumerated() {
            while run < element.runs.count, element.runs[run].children <= i {
                escape(element.runs[run].text, into: &out)
                run += 1
            }
            convert(child, into: &out)
        }
        while run < element.runs.count {
            escape(element.runs[run].text, into: &out)
            run += 1
        }
    }

    private static func convert(_ e: XMLElement, into out: inout String) {
        switch e.name {
        case "paragraph": wrap(e, "p", into: &out)
        case "content": wrap(e, "span", into: &out)
        case "sub", "sup": wrap(e, e.name, into: &out)
        case "br": out += "<br/>"
        case "item": wrap(e, "li", into: &out)
        case "list":
            if let caption = e.children.first(where: { $0.name == "caption" }) { wrap(caption, "p", into: &out) }
            let tag = e.attribute("listType") == "ordered" ? "ol" : "ul"
            open(tag, e, into: &out)
            for item in e.children where item.name == "item" { convert(item, into: &out) }
            out += "</\(tag)>"
        case "linkHtml":
            let href = e.attribute("href") ?? ""
            let safe = ["http://", "https://", "mailto:", "#"].contains { href.lowercased().hasPrefix($0) }
            if safe {
                out += #"<a href=""#
                escape(href, into: &out)
                out += #"">"#
                content(of: e, into: &out)
                out += "</a>"
            } else {
                wrap(e, "span", into: &out)
            }
        case "footnoteRef", "renderMultiMedia":
            break
        case let name where tables.contains(name):
            if name == "col" {
                open(name, e, into: &out, selfClosing: true)
            } else {
                wrap(e, name, into: &out)
            }
        default:
            content(of: e, into: &out)
        }
    }

    private static func wrap(_ e: XMLElement, _ tag: String, into out: inout String) {
        open(tag, e, into: &out)
        content(of: e, into: &out)
        out += "</\(tag)>"
    }

    private static func open(_ tag: String, _ e: XMLElement, into out: inout String, selfClosing: Bool = false) {
        out += "<" + tag
        if let id = e.attribute("ID"), !id.isEmpty { attribute("id", id, into: &out) }
        let style = (e.attribute("styleCode") ?? "").split(separator: " ").compactMap { styles[String($0)] }
        if !style.isEmpty { attribute("style", style.joined(separator: "; "), into: &out) }
        if tables.contains(tag) {
            for (name, value) in e.attributes where tableAttributes.contains(name) { attribute(name, value, into: &out) }
        }
        out += selfClosing ? "/>" : ">"
    }

    private static func attribute(_ name: String, _ value: String, into out: inout String) {
        out += " \(name)=\""
        escape(value, into: &out)
        out += "\""
    }

    /// XHTML in FHIR's narrative div.
    static func div(_ body: String) -> String { #"<div xmlns="http://www.w3.org/1999/xhtml">"# + body + "</div>" }

    /// `& < > "` as entities, the form FHIR's XHTML writer gives a div (so a stored narrative reads back the same); a
    /// line break (LF, CR or CRLF) as LF, or with `breaks` as `<br/>` (plain text as narrative); other control
    /// characters than tab dropped (XML has none).
    static func escape(_ text: String, into out: inout String, breaks: Bool = false) {
        var afterCR = false
        for c in text.unicodeScalars {
            defer { afterCR = c == "\r" }
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "\r": out += breaks ? "<br/>" : "\n"
            case "\n": if !afterCR { out += breaks ? "<br/>" : "\n" }
            case "\t": out += "\t"
            default: if c.value >= 0x20 { out.unicodeScalars.append(c) }
            }
        }
    }
}
