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
            case .malformed(let p): "\(p): not the secret it should hold (hex digits of the right length)"
            }
        }
    }

    /// Loads the key at `path`, or creates it (and its folder) when there is none.
    public static func loadOrCreate(at path: String) throws -> Curve25519.Signing.PrivateKey {
        let raw = try SecretFile.loadOrCreate(at: path, bytes: 32)
        guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw) else { throw KeyError.malformed(path) }
        return key
    }
}

/// A secret kept in a file only its owner can read: random bytes as hex, created 0600 (never briefly readable by
/// others) on first use, refused when others may read it. The ledger key and the JWT secret live in such files.
public enum SecretFile {
    public static func loadOrCreate(at path: String, bytes count: Int) throws(GatewayKey.KeyError) -> [UInt8] {
        let fm = FileManager.default
        if fm.fileExists(atPath: path) {
            let attributes = try? fm.attributesOfItem(atPath: path)
            let mode = (attributes?[.posixPermissions] as? NSNumber)?.intValue ?? 0
            guard mode & 0o077 == 0 else { throw GatewayKey.KeyError.tooOpen(path, mode: mode) }
            guard let data = fm.contents(atPath: path) else { throw GatewayKey.KeyError.unreadable(path) }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let raw = Hex.decode(text), raw.count == count else { throw GatewayKey.KeyError.malformed(path) }
            return raw
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try? fm.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        var raw = [UInt8](repeating: 0, count: count)
        var generator = SystemRandomNumberGenerator()
        for i in raw.indices { raw[i] = UInt8.random(in: 0...255, using: &generator) }
        let temporary = path + ".new-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw GatewayKey.KeyError.unreadable(path) }
        let text = Array((Hex.encode(raw) + "\n").utf8)
        let written = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        fsync(fd)
        close(fd)
        guard written == text.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw GatewayKey.KeyError.unreadable(path)
        }
        return raw
    }
}
