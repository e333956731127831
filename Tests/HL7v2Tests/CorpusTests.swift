import Testing

@testable import HL7v2

@Suite("Corpus")
struct CorpusTests {
    @Test("the corpus is present")
    func corpusPresent() {
        #expect(Fixtures.wellFormed.count >= 150)
        #expect(Fixtures.malformed.count == 5)
    }

    @Test("every well-formed sample parses and round-trips byte for byte", arguments: Fixtures.wellFormed)
    func roundTrips(_ file: FixtureFile) throws {
        let bytes = file.bytes
        let batch = try ER7Parser().parse(bytes)
        #expect(!batch.messages.isEmpty)
        #expect(ER7Serializer().serialize(batch) == bytes)
        for message in batch.messages {
            #expect(ER7Serializer().serialize(message) == message.bytes)
            #expect(message.messageCode != nil)
            // Every subcomponent is reachable and decodes.
            var visitor = TextVisitor(message: message)
            message.walk(&visitor)
            #expect(visitor.count > 10)
        }
    }

    @Test("terminators normalise to CR and the result parses to the same values", arguments: Fixtures.wellFormed)
    func normalisedTerminators(_ file: FixtureFile) throws {
        let batch = try ER7Parser().parse(file.bytes)
        let normalised = ER7Serializer(terminator: .carriageReturn).serialize(batch)
        #expect(!normalised.contains(0x0A))
        let again = try ER7Parser().parse(normalised)
        #expect(again.messages.count == batch.messages.count)
        for (a, b) in zip(again.messages, batch.messages) {
            #expect(a.segments.map(\.value) == b.segments.map(\.value))
        }
    }

    @Test("malformed samples are rejected with a located error, or handled")
    func malformed() throws {
        var outcomes: [String: String] = [:]
        for file in Fixtures.malformed {
            do {
                let batch = try ER7Parser().parse(file.bytes)
                outcomes[file.name] = "parsed \(batch.messages.count)"
                #expect(ER7Serializer().serialize(batch) == file.bytes)
            } catch {
                outcomes[file.name] = "\(error.code)@\(error.byteOffset)"
            }
        }
        #expect(outcomes["dex--Lyme_WithBadDelimiters.hl7"] == "badEncodingCharacters@4")
        #expect(outcomes["ti--msh_present_but_missing_all_fields.hl7"] == "badEncodingCharacters@4")
        #expect(outcomes["ti--msh_present_but_missing_msh-2.hl7"] == "badEncodingCharacters@4")
        #expect(outcomes["ti--msh_present_but_missing_msh-9.hl7"] == "missingMessageType@186")
        // A byte-order mark before MSH is accepted (21 of the well-formed samples have one) and kept.
        #expect(outcomes["efferent--Sample-BrokenCharacterMessage.hl7"] == "parsed 1")
    }
}

struct TextVisitor: ER7Visitor {
    let message: Message
    var count = 0
    mutating func subcomponent(_ range: Range<Int>, newRepetition: Bool, newComponent: Bool) {
        _ = message.text(in: range)
        count += 1
    }
}
