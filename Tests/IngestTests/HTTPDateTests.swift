import Foundation
import Testing

@testable import GatewayAPI

@Suite("HTTP dates")
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
}
