import FHIR
import HL7v2
import Hummingbird
import Ingest
import LedgerAnchors
import Logging
import Mapping
import NIOCore
import Prometheus
import ServiceLifecycle
import Store

/// The HTTP listener's settings (`http:` in the config file).
public struct HTTPConfiguration: Sendable, Hashable, Codable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Request bodies larger than this are refused with 413.
    public var maxBodyBytes = 16 << 20
    /// Feed clients: name → API key. When empty, feeds are open (bind to 127.0.0.1 only, the default).
    public var feedKeys: [String: String] = [:]
    /// The key for `/admin/…`. When unset, admin endpoints answer only requests from the loopback interface.
    public var adminKey: String?

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = HTTPConfiguration()
        host = try c.decodeIfPresent(String.self, forKey: .host) ?? d.host
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? d.port
        maxBodyBytes = try c.decodeIfPresent(Int.self, forKey: .maxBodyBytes) ?? d.maxBodyBytes
        feedKeys = try c.decodeIfPresent([String: String].self, forKey: .feedKeys) ?? [:]
        adminKey = try c.decodeIfPresent(String.self, forKey: .adminKey)
    }
}

/// What the HTTP routes need: the ingestors, the store, and the dead-letter replayer.
public struct GatewayServices: Sendable {
    public var hl7: HL7Ingestor
    public var fhir: FHIRIngestor
    public var store: any RecordStore
    public var replayer: DeadLetterReplayer
    public var configuration: HTTPConfiguration
    /// Proofs, tree heads and integrity status; nil when the gateway runs without a ledger key (some tests).
    public var ledger: LedgerServices?
    /// Checks the FHIR API's bearer tokens; nil: only the admin key reads.
    public var tokens: AccessTokenVerifier?
    /// Reloads `Mappings/`; nil when the gateway runs on a fixed mapper (tests).
    public var mappingWatcher: MappingWatcher? = nil
    /// Where accesses are recorded as AuditEvents; nil: not audited (some tests).
    public var audit: AuditTrail? = nil
    /// How records of one person are linked and their conflicts decided.
    public var reconciliation = PatientReconciler.Configuration()
    /// The scheduled scan of the legacy sources; nil when none is configured.
    public var integrity: IntegrityScanner? = nil
    /// Where the metrics are kept (Prometheus text at `/metrics`); nil: no metrics endpoint.
    public var metrics: PrometheusCollectorRegistry? = nil
    /// FHIR requests by interaction and status (`ledgerbridge_fhir_requests_total`).
    let requestsCounted = LabeledCounters(label: "ledgerbridge_fhir_requests_total", dimensions: ["interaction", "status"])

    public init(
        hl7: HL7Ingestor, fhir: FHIRIngestor, store: any RecordStore, configuration: HTTPConfiguration, ledger: LedgerServices? = nil,
        tokens: AccessTokenVerifier? = nil
    ) {
        self.tokens = tokens
        self.hl7 = hl7
        self.fhir = fhir
        self.store = store
        self.replayer = DeadLetterReplayer(ingestor: hl7)
        self.configuration = configuration
        self.ledger = ledger
    }
}

/// What the ledger routes read: proofs over the running tree, and the anchor service's state.
public struct LedgerServices: Sendable {
    public var proofs: ProofBuilder
    public var anchoring: AnchorService?

    public init(proofs: ProofBuilder, anchoring: AnchorService?) {
        self.proofs = proofs
        self.anchoring = anchoring
    }
}

/// A request's context: Hummingbird's core plus the peer's address (for audit, admin checks and message sources).
public struct GatewayRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    var peer: String { remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown" }
    var isLoopback: Bool {
        guard let ip = remoteAddress?.ipAddress else { return false }
        return ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
    }
}

public enum GatewayApplication {
    /// The router with every route; `make` wraps it in an application, tests may use it directly.
    public static func router(_ services: GatewayServices) -> Router<GatewayRequestContext> {
        let router = Router(context: GatewayRequestContext.self)
        router.get("/health") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
        }
        router.get("/metrics") { _, _ in
            guard let registry = services.metrics else { return Reply.outcome(.notFound, code: "not-found", "metrics are not collected") }
            let pending = await services.hl7.queue.depth
            registry.makeGauge(name: "ledgerbridge_commit_queue_pending", help: "messages waiting for the store").set(Double(pending))
            if let audit = services.audit {
                registry.makeGauge(name: "ledgerbridge_audit_events_stored", help: "AuditEvents stored since start").set(Double(audit.stored))
            }
            let c = services.hl7.mappers.coverage
            registry.makeGauge(name: "ledgerbridge_mapping_values_unmapped", help: "input values no mapping rule read, since start")
                .set(Double(c.values - c.mappedValues))
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
            )
        }
        FeedRoutes(services: services).register(on: router)
        AdminRoutes(services: services).register(on: router)
        LedgerRoutes(services: services).register(on: router)
        FHIRReadRoutes(services: services).register(on: router)
        FHIRSearchRoutes(services: services).register(on: router)
        ReconciliationRoutes(services: services).register(on: router)
        return router
    }

    /// The application; `background` services (MLLP listener, pollers) run and stop with it.
    public static func make(
        _ services: GatewayServices, logger: Logger, background: [any Service] = [],
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(services),
            configuration: .init(address: .hostname(services.configuration.host, port: services.configuration.port), serverName: "ledgerbridge"),
            services: background,
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? services.configuration.port) },
            logger: logger)
    }
}

/// Responses the routes share: JSON and FHIR bodies, OperationOutcomes.
enum Reply {
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, contentType: String = "application/json") -> Response {
        Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter().write(value))))
    }

    static func fhir(_ resource: JSONObject, status: HTTPResponse.Status, xml: Bool) -> Response {
        if xml, let bytes = try? FHIRXMLWriter(indent: false).write(resource) {
            return Response(status: status, headers: [.contentType: "application/fhir+xml"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        return fhirJSON(FHIRJSON().write(resource), status: status)
    }

    /// JSON bytes already written (a stored body with its meta, a cached CapabilityStatement).
    static func fhirJSON(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/fhir+json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func outcome(_ status: HTTPResponse.Status, code: String, _ message: String, xml: Bool = false) -> Response {
        let outcome = JSONObject([
            ("resourceType", .string("OperationOutcome")),
            (
                "issue",
                .array([.object(JSONObject([("severity", .string("error")), ("code", .string(code)), ("diagnostics", .string(message))]))])
            ),
        ])
        return fhir(outcome, status: status, xml: xml)
    }

    /// 503 with Retry-After: the store cannot take data now; nothing was stored.
    static func unavailable(_ error: IngestError) -> Response { unavailable(error.description) }

    /// 503 with Retry-After and an OperationOutcome saying why: a transient refusal the client should retry.
    static func unavailable(_ message: String, xml: Bool = false) -> Response {
        var r = outcome(.serviceUnavailable, code: "transient", message, xml: xml)
        r.headers[.retryAfter] = "5"
        return r
    }
}
