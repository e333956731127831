import Foundation
import Mapping

/// The `Mappings/` folder on disk: its `*.yaml` files (fixtures aside) and the `fixtures/` pairs.
public struct MappingFolder: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// A fixture: an input file and the bundle it must map to (`fixtures/adt-a01.hl7` + `fixtures/adt-a01.json`).
    public struct Fixture: Sendable {
        public var input: String
        public var expected: String
    }

    /// Reads every mapping file, relative paths sorted; `fixtures/` and files starting with `.` are skipped.
    public func files() throws -> [MappingLoader.File] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw MappingFolderError(description: "\(path): no such mapping folder")
        }
        guard let walker = FileManager.default.enumerator(atPath: path) else {
            throw MappingFolderError(description: "\(path): cannot be read")
        }
        var out: [MappingLoader.File] = []
        while let relative = walker.nextObject() as? String {
            if relative.hasPrefix("fixtures") || relative.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
            guard relative.hasSuffix(".yaml") || relative.hasSuffix(".yml") else { continue }
            let full = path + "/" + relative
            do {
                out.append(MappingLoader.File(path: relative, text: try String(contentsOfFile: full, encoding: .utf8)))
            } catch {
                throw MappingFolderError(description: "\(full): cannot be read as UTF-8 text")
            }
        }
        return out.sorted { $0.path < $1.path }
    }

    /// Loads and checks the set. Throws ``MappingLoadError`` (every problem, file:line:column) or ``MappingFolderError``.
    public func load() throws -> DeclarativeMapper {
        DeclarativeMapper(plan: try MappingLoader.load(try files()))
    }

    /// A cheap fingerprint of the folder (names, sizes and modification times), to notice edits.
    public func fingerprint() -> String {
        guard let walker = FileManager.default.enumerator(atPath: path) else { return "" }
        var parts: [String] = []
        while let relative = walker.nextObject() as? String {
            guard relative.hasSuffix(".yaml") || relative.hasSuffix(".yml"), !relative.hasPrefix("fixtures") else { continue }
            let attributes = try? FileManager.default.attributesOfItem(atPath: path + "/" + relative)
            let size = (attributes?[.size] as? NSNumber)?.intValue ?? -1
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            parts.append("\(relative):\(size):\(modified)")
        }
        return parts.sorted().joined(separator: "\n")
    }

    /// Fixture pairs under `fixtures/`: every input (`.hl7`, `.csv`… anything but `.json`) with a `.json` beside it.
    public func fixtures() -> [Fixture] {
        let dir = path + "/fixtures"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        var out: [Fixture] = []
        for name in names.sorted() where !name.hasSuffix(".json") && !name.hasPrefix(".") && !name.hasSuffix(".md") {
            let stem = name.split(separator: ".", omittingEmptySubsequences: false).dropLast().joined(separator: ".")
            let expected = dir + "/" + stem + ".json"
            if FileManager.default.fileExists(atPath: expected) { out.append(Fixture(input: dir + "/" + name, expected: expected)) }
        }
        return out
    }
}

public struct MappingFolderError: Error, CustomStringConvertible, Sendable {
    public var description: String
}
