import Foundation
import Testing

/// A specification example in both renderings (Fixtures/fhir-xml and Fixtures/fhir-json, see SOURCES.md).
struct ExamplePair: CustomTestStringConvertible, Sendable {
    let name: String
    var xmlPath: String { FHIRFixtures.root + "/fhir-xml/" + name + ".xml" }
    var jsonPath: String { FHIRFixtures.root + "/fhir-json/" + name + ".json" }
    var xml: [UInt8] { Array(FileManager.default.contents(atPath: xmlPath)!) }
    var json: [UInt8] { Array(FileManager.default.contents(atPath: jsonPath)!) }
    var testDescription: String { name }
}

enum FHIRFixtures {
    static let root: String = Bundle.module.resourceURL!.appendingPathComponent("Fixtures").path

    static func names(_ folder: String, _ ext: String) -> Set<String> {
        Set(
            ((try? FileManager.default.contentsOfDirectory(atPath: root + "/" + folder)) ?? []).filter { $0.hasSuffix(ext) }.map {
                String($0.dropLast(ext.count))
            })
    }

    static let pairs: [ExamplePair] = names("fhir-xml", ".xml").intersection(names("fhir-json", ".json")).sorted().map(ExamplePair.init)
    static let jsonOnly: [String] = names("fhir-json", ".json").subtracting(names("fhir-xml", ".xml")).sorted()
}
