import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Set once, read after: the timeout handler and the completion handler run on other threads.
private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// Outbound HTTP for the ledger backends and the identity provider's keys: FoundationNetworking (libcurl on Linux),
/// one POST (or GET) with a timeout.
public enum HTTPPost {
    /// A request without a usable answer. It may still have reached the server: a caller whose request has effects
    /// (an Ethereum send) must check before sending again.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    private static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        return URLSession(configuration: configuration)
    }()

    /// POSTs `body` and returns the status and body of the answer.
    public static func send(
        _ url: URL, body: [UInt8], contentType: String, accept: String? = nil, headers: [String: String] = [:], timeout: Double
    ) async throws(Failure) -> (status: Int, contentType: String?, body: [UInt8]) {
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.httpBody = Data(body)
        request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        if let accept { request.setValue(accept, forHTTPHeaderField: "Accept") }
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        return try await perform(request, timeout: timeout)
    }

    /// GETs `url` and returns the status and body of the answer.
    public static func get(
        _ url: URL, accept: String? = nil, timeout: Double
    ) async throws(Failure) -> (
        status: Int, contentType: String?, body: [UInt8]
    ) {
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        request.httpMethod = "GET"
        if let accept { request.setValue(accept, forHTTPHeaderField: "Accept") }
        return try await perform(request, timeout: timeout)
    }

    private static func perform(
        _ request: URLRequest, timeout: Double
    ) async throws(Failure) -> (
        status: Int, contentType: String?, body: [UInt8]
    ) {
        let url = request.url!
        // The deadline is enforced here: FoundationNetworking on Linux does not apply the request's timeoutInterval to
        // a server that accepted the request and answers late (found by a test whose node answered after 3 s).
        let timedOut = Flag()
        let result: Result<(Data, URLResponse), any Error> = await withCheckedContinuation { continuation in
            let task = session.dataTask(with: request) { data, response, error in
                if let error {
                    continuation.resume(returning: .failure(error))
                } else if let response {
                    continuation.resume(returning: .success((data ?? Data(), response)))
                } else {
                    continuation.resume(returning: .failure(URLError(.badServerResponse)))
                }
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                if task.state == .running {
                    timedOut.set()
                    task.cancel()
                }
            }
            task.resume()
        }
        if timedOut.isSet, case .failure = result {
            throw Failure(description: "\(url.absoluteString): no answer within \(timeout) s")
        }
        switch result {
        case .success(let (data, response)):
            guard let http = response as? HTTPURLResponse else {
                throw Failure(description: "\(url.host ?? "?"): not an HTTP answer")
            }
            return (http.statusCode, http.value(forHTTPHeaderField: "Content-Type"), Array(data))
        case .failure(let error):
            throw Failure(
                description: "\(url.absoluteString): \((error as? URLError).map { "\($0.code.rawValue) \($0.localizedDescription)" } ?? "\(error)")")
        }
    }
}
