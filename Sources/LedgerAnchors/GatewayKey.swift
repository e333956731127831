import Crypto
import Foundation
import Ledger

/// The gateway's Ed25519 signing key for tree heads: generated on first use, kept in a file only its owner can read.
///
/// The file holds the 32-byte raw private key as 64 hex digits. A key file that others may read is refused: whoever
/// can read it can sign tree heads in the gateway's name.
public enum GatewayKey {
    public enum KeyError: Error, CustomStringConvertible {
        case unreadable(String)
        case tooOpen(String, mode: Int)
        case malformed(String)

        public var description: String {
            switch self {
            case .unreadable(let p): "\(p): cannot read or create the signing key"
            case .tooOpen(let p, let mode): "\(p): the signing key is readable by others (mode \(String(mode, radix: 8))); chmod 600 it"
            case .malformed(let p): "\(p): not an Ed25519 private key (64 hex digits)"
            }
        }
    }

    /// Loads the key at `path`, or creates it (and its folder) when there is none.
    public static func loadOrCreate(at path: String) throws -> Curve25519.Signing.PrivateKey {
        let fm = FileManager.default
        if fm.fileExists(atPath: path) {
            let attributes = try? fm.attributesOfItem(atPath: path)
            let mode = (attributes?[.posixPermissions] as? NSNumber)?.intValue ?? 0
            guard mode & 0o077 == 0 else { throw KeyError.tooOpen(path, mode: mode) }
            guard let data = fm.contents(atPath: path) else { throw KeyError.unreadable(path) }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let raw = Hex.decode(text), let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw) else {
                throw KeyError.malformed(path)
            }
            return key
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try? fm.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let key = Curve25519.Signing.PrivateKey()
        // Created with mode 0600 from the start (never briefly readable by others), then moved into place.
        let temporary = path + ".new-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw KeyError.unreadable(path) }
        let bytes = Array((Hex.encode(Array(key.rawRepresentation)) + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        fsync(fd)
        close(fd)
        guard written == bytes.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw KeyError.unreadable(path)
        }
        return key
    }
}
