import Foundation
import Testing

/// A corpus file copied into Tests/HL7v2Tests/Fixtures (see Fixtures/SOURCES.md).
struct FixtureFile: CustomTestStringConvertible, Sendable {
    let folder: String
    let name: String
    var path: String { Fixtures.root + "/" + folder + "/" + name }
    var bytes: [UInt8] { Array(FileManager.default.contents(atPath: path) ?? Data()) }
    var testDescription: String { folder + "/" + name }
}

enum Fixtures {
    static let root: String = {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures").path
    }()

    static func files(_ folder: String) -> [FixtureFile] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root + "/" + folder)) ?? []
        return names.sorted().map { FixtureFile(folder: folder, name: $0) }
    }

    /// Every well-formed sample: single messages and batches.
    static let wellFormed: [FixtureFile] = files("hl7v2") + files("hl7v2-batch")
    static let malformed: [FixtureFile] = files("hl7v2-malformed")

    /// The package root (for scripts the tests run).
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()
}
