import Testing

@testable import HL7v2

@Suite("Escape sequences")
struct EscapeTests {
    static func decode(_ raw: String, _ enc: EncodingCharacters = .standard, _ cs: HL7CharacterSet = .utf8) -> String {
        Array(raw.utf8).withUnsafeBufferPointer { EscapeCodec.unescape($0, encoding: enc, characterSet: cs) }
    }

    @Test(
        "delimiter escapes",
        arguments: [
            ("a\\F\\b", "a|b"), ("a\\S\\b", "a^b"), ("a\\T\\b", "a&b"), ("a\\R\\b", "a~b"), ("a\\E\\b", "a\\b"),
            ("\\F\\\\S\\\\T\\\\R\\\\E\\", "|^&~\\"), ("A\\T\\E", "A&E"),
        ])
    func delimiters(_ raw: String, _ text: String) {
        #expect(Self.decode(raw) == text)
    }

    @Test(
        "formatting escapes",
        arguments: [
            ("line1\\.br\\line2", "line1\nline2"), ("a\\.sp\\b", "a\nb"), ("a\\.sp3\\b", "a\n\n\nb"), ("a\\.sp+2\\b", "a\n\nb"),
            ("a\\.sk2\\b", "a  b"), ("\\H\\bold\\N\\", "bold"), ("\\.ce\\T", "\nT"), ("\\.fi\\a\\.nf\\", "a"), ("\\.in+4\\x", "x"),
            ("\\.ti-2\\y", "y"),
        ])
    func formatting(_ raw: String, _ text: String) {
        #expect(Self.decode(raw) == text)
    }

    @Test(
        "hexadecimal data in the message's character set",
        arguments: [
            ("a\\X0D\\b", "a\rb"), ("\\X0A\\", "\n"), ("\\X41424344\\", "ABCD"), ("\\XC3BC\\", "ü"), ("\\xc3bc\\", "\\xc3bc\\"),
        ])
    func hex(_ raw: String, _ text: String) {
        #expect(Self.decode(raw) == text)
    }

    @Test(
        "hex data invalid in the character set, unknown, unsupported and unterminated escapes stay verbatim",
        arguments: [
            "\\XC3\\", "\\XZZ\\", "\\X1\\", "\\Q\\", "\\C2842\\x", "\\M248441\\", "\\Zlocal\\", "tail\\", "\\.xx\\", "\\\\", "\\P\\",
        ])
    func verbatim(_ raw: String) {
        #expect(Self.decode(raw) == raw)
    }

    @Test("\\P\\ is the truncation character when one is declared")
    func truncation() {
        var enc = EncodingCharacters.standard
        enc.truncation = UInt8(ascii: "#")
        #expect(Self.decode("1\\P\\2", enc) == "1#2")
        #expect(EscapeCodec.escape("1#2", encoding: enc, characterSet: .utf8) == Array("1\\P\\2".utf8))
    }

    @Test("Latin-1 hex data")
    func latinHex() {
        #expect(Self.decode("M\\XFC\\ller", .standard, .latin1) == "Müller")
    }

    @Test(
        "writing escapes every delimiter and line breaks",
        arguments: [
            ("a|b^c&d~e\\f", "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f"), ("x\ny", "x\\.br\\y"), ("x\ry", "x\\X0D\\y"), ("plain", "plain"),
        ])
    func escape(_ text: String, _ raw: String) {
        #expect(EscapeCodec.escape(text, encoding: .standard, characterSet: .utf8) == Array(raw.utf8))
        #expect(Self.decode(raw) == text)
    }

    @Test("text the character set cannot carry is refused")
    func unrepresentable() {
        #expect(EscapeCodec.escape("Müller", encoding: .standard, characterSet: .ascii) == nil)
        #expect(EscapeCodec.escape("€", encoding: .standard, characterSet: .latin1) == nil)
        #expect(EscapeCodec.escape("€", encoding: .standard, characterSet: .latin9) == [0xA4])
        var noEscape = EncodingCharacters.standard
        noEscape.escape = nil
        #expect(EscapeCodec.escape("a|b", encoding: noEscape, characterSet: .utf8) == nil)
    }

    @Test("escapes decode through the message API")
    func throughMessage() throws {
        let m = try Message(parsing: "MSH|^~\\&|A||||||ORU^R01|1|P|2.5\rOBX|1|TX|||Result\\.br\\A\\T\\E \\F\\ done\r")
        #expect(m["OBX-5"] == "Result\nA&E | done")
        #expect(m.segment("OBX")!.rawValue(field: 5) == "Result\\.br\\A\\T\\E \\F\\ done")
    }
}
