import Foundation
import Store
import Testing

@testable import GatewayAPI

@Suite("HTTP dates and FHIR instants")
struct HTTPDateTests {
    @Test("Last-Modified is the IMF-fixdate Foundation's formatter writes, for dates across leap years, centuries and 1970")
    func imfFixdate() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        var samples: [Int64] = [0, 1, 86_399_999, 951_782_400_000, 1_796_140_363_989, 4_102_444_800_000, 978_307_199_000, 1_709_164_800_000]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 { samples.append(Int64.random(in: 0...4_102_444_800_000, using: &generator)) }
        for millis in samples {
            let expected = formatter.string(from: Date(timeIntervalSince1970: Double(millis / 1000)))
            #expect(FHIRReadRoutes.httpDate(millis) == expected, "\(millis)")
        }
    }

    @Test("FHIR instants are the ones Foundation's formatter writes, with milliseconds, before 1970 too")
    func instants() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        var samples: [Int64] = [0, 1, 999, -1, -1000, -1001, 951_782_400_123, 1_796_140_363_989, -2_208_988_800_000]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 { samples.append(Int64.random(in: -2_208_988_800_000...4_102_444_800_000, using: &generator)) }
        for millis in samples {
            let seconds = Int64((Double(millis) / 1000).rounded(.down))
            let ms = millis - seconds * 1000
            let expected = formatter.string(from: Date(timeIntervalSince1970: Double(seconds))) + "." + String(1000 + ms).dropFirst() + "Z"
            #expect(StoreTime.instant(millis) == expected, "\(millis)")
        }
    }
}
