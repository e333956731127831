#if canImport(Glibc)
import Glibc
#endif

/// The gateway's clock as an HL7 DTM in UTC (`YYYYMMDDHHMMSS+0000`), for MSH-7 of the ACKs it sends.
enum HL7Time {
    static func now() -> String {
        var t = time(nil)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return pad(parts.tm_year + 1900, 4) + pad(parts.tm_mon + 1, 2) + pad(parts.tm_mday, 2) + pad(parts.tm_hour, 2)
            + pad(parts.tm_min, 2) + pad(parts.tm_sec, 2) + "+0000"
    }
}
