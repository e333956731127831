import Foundation
import TestSupport
import Testing

@testable import HL7v2

/// Compares every subcomponent with python-hl7, an independent parser, over the whole corpus.
@Suite("Cross-check with python-hl7")
struct CrossCheckTests {
    struct Leaf: Decodable {
        var raw: String
        var decoded: String
        var comparable: Bool
    }

    struct PeerMessage: Decodable {
        var file: String
        var index: Int
        var segments: [[[[[Leaf]]]]]
    }

    static func runPeer(_ files: [String]) async throws -> [PeerMessage] {
        let result = try await TestEnvironment.runPython(script: "scripts/crosscheck_python_hl7.py", files)
        return try result.output.split(separator: "\n").map { try JSONDecoder().decode(PeerMessage.self, from: Data($0.utf8)) }
    }

    @Test("every subcomponent of every corpus message equals python-hl7's")
    func everySubcomponentAgrees() async throws {
        let files = Fixtures.wellFormed
        let peer = try await Self.runPeer(files.map(\.path))
        var ours: [(String, Int, Message)] = []
        for file in files {
            for (i, m) in try ER7Parser().parse(file.bytes).messages.enumerated() { ours.append((file.path, i, m)) }
        }
        try #require(peer.count == ours.count, "python-hl7 saw \(peer.count) messages, we saw \(ours.count)")
        var leaves = 0, decodedCompared = 0, mismatches: [String] = []
        for (p, (file, index, message)) in zip(peer, ours) {
            #expect(p.file == file && p.index == index)
            let segments = message.segments
            guard p.segments.count == segments.count else {
                mismatches.append("\(file)#\(index): \(p.segments.count) vs \(segments.count) segments")
                continue
            }
            for (s, (peerSegment, segment)) in zip(p.segments, segments).enumerated() {
                let raw = Self.rawTree(segment)
                let decoded = segment.value.fields
                guard peerSegment.count == raw.count else {
                    mismatches.append("\(file)#\(index) segment \(s): \(peerSegment.count) vs \(raw.count) fields")
                    continue
                }
                for f in 0..<raw.count {
                    let peerField = peerSegment[f]
                    guard peerField.map({ $0.map(\.count) }) == raw[f].map({ $0.map(\.count) }) else {
                        mismatches.append("\(file)#\(index) \(segment.id)-\(f): shapes differ")
                        continue
                    }
                    for r in 0..<raw[f].count {
                        for c in 0..<raw[f][r].count {
                            for sc in 0..<raw[f][r][c].count {
                                let leaf = peerField[r][c][sc]
                                leaves += 1
                                if leaf.raw != raw[f][r][c][sc] {
                                    mismatches.append("\(file)#\(index) \(segment.id)-\(f)[\(r + 1)].\(c + 1).\(sc + 1): raw differs")
                                }
                                if leaf.comparable && f > 2 {
                                    decodedCompared += 1
                                    if leaf.decoded != decoded[f][r][c][sc] {
                                        mismatches.append("\(file)#\(index) \(segment.id)-\(f)[\(r + 1)].\(c + 1).\(sc + 1): decoded differs")
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) differences, first: \(mismatches.prefix(10))")
        #expect(leaves > 50_000)
        #expect(decodedCompared > 40_000)
    }

    static func rawTree(_ segment: Segment) -> [[[[String]]]] {
        struct Raw: ER7Visitor {
            let message: Message
            var fields: [[[[String]]]] = []
            mutating func beginSegment(position: Int, id: Range<Int>) { fields = [[[[message.rawText(in: id)]]]] }
            mutating func beginField(number: Int) { fields.append([]) }
            mutating func subcomponent(_ range: Range<Int>, newRepetition: Bool, newComponent: Bool) {
                let f = fields.count - 1
                if newRepetition { fields[f].append([]) }
                if newComponent { fields[f][fields[f].count - 1].append([]) }
                let r = fields[f].count - 1
                fields[f][r][fields[f][r].count - 1].append(message.rawText(in: range))
            }
        }
        var one = Raw(message: segment.message)
        one.fields = [[[[segment.id]]]]
        let count = segment.fieldCount
        if count > 0 {
            for f in 1...count {
                one.beginField(number: f)
                let slot = segment.message.index.fieldSlot(segment: segment.position, number: f)!
                segment.message.index.forEachPiece(in: slot) { one.subcomponent($0, newRepetition: $1, newComponent: $2) }
            }
        }
        return one.fields
    }
}
