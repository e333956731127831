import ArgumentParser
import Crypto
import GatewayAPI
import Ingest
import LedgerAnchors
import Logging
import Mapping
import Metrics
import Prometheus
import ServiceLifecycle
import Store
import UnixSignals

/// `ledgerbridge serve`: the gateway — HTTP feeds and admin, the MLLP listener, legacy source pollers.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the gateway (embedded defaults: SQLite in ./data, HTTP 127.0.0.1:8080, MLLP 127.0.0.1:2575).")

    @Option(name: .shortAndLong, help: "The configuration file (default: ./ledgerbridge.yaml when present).")
    var config: String?

    func run() async throws {
        let configuration = try GatewayConfiguration.load(path: config)
        let logger = LogSetup.bootstrap(level: configuration.logLevel)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let gateway = try await IngestPipeline.open(configuration, logger: logger)

        let anchoring = try gateway.anchorService(configuration, logger: logger)
        if configuration.ledger.enabled {
            // The tree takes each commit's leaves as they are made, rather than reading them back from the store.
            await gateway.queue.setCommitObserver { results in anchoring.committed(results) }
        }
        var services: [any Service] = configuration.ledger.enabled ? [anchoring] : []
        if !configuration.ledger.enabled { logger.warning("ledger.enabled is false: no tree head is sealed or anchored") }
        var gatewayServices = try await gateway.services(configuration, anchoring: anchoring, logger: logger)
        gatewayServices.metrics = registry
        gatewayServices.reconciliation = PatientReconciler.Configuration(
            identifierSystems: configuration.reconciliation.identifierSystems, precedence: configuration.reconciliation.precedence,
            unlinked: configuration.reconciliation.unlinked)
        if configuration.integrityScanMinutes > 0 && !configuration.sources.isEmpty {
            let scanner = IntegrityScanner(
                sources: configuration.sources, store: gateway.store, interval: .seconds(configuration.integrityScanMinutes * 60), logger: logger)
            gatewayServices.integrity = scanner
            services.append(scanner)
        }
        let audit = AuditTrail(queue: gateway.queue, logger: logger)
        gatewayServices.audit = audit
        services.append(audit)
        if let loaded = gateway.mappers.mapper as? DeclarativeMapper {
            let watcher = MappingWatcher(
                folder: MappingFolder(path: configuration.mappings), holder: gateway.mappers, loaded: loaded,
                interval: .milliseconds(Int(configuration.mappingsReloadSeconds * 1000)), logger: logger)
            gatewayServices.mappingWatcher = watcher
            services.append(watcher)
            logger.info(
                "mappings loaded",
                metadata: [
                    "lb.folder": "\(configuration.mappings)", "lb.version": "\(loaded.version.prefix(12))", "lb.files": "\(loaded.plan.files.count)",
                ])
            MappingWatcher.logWarnings(loaded, logger)
        }
        let app = GatewayApplication.make(gatewayServices, logger: logger) { port in
            logger.info("HTTP listening", metadata: ["http.host": "\(configuration.http.host)", "http.port": "\(port)"])
        }
        services.append(app)
        if configuration.mllp.enabled {
            services.append(MLLPListener(configuration: configuration.mllp, ingestor: gateway.hl7, logger: logger))
        }
        for source in configuration.sources {
            services.append(LegacySourcePoller(configuration: source, queue: gateway.queue, ingestor: gateway.hl7, logger: logger))
        }
        if let days = configuration.store.retentionDays {
            services.append(RetentionService(store: gateway.store, retentionDays: days, logger: logger))
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            try? await gateway.store.close()
            throw error
        }
        try await gateway.store.close()
    }
}

/// How every gateway command opens the store (migrated when configured) and the ingest pipeline over it.
extension IngestPipeline {
    static func open(_ configuration: GatewayConfiguration, logger: Logger, migrate: Bool? = nil) async throws -> IngestPipeline {
        let mapper = try MappingsCommand.load(configuration.mappings)
        let store = try await StoreFactory.open(try configuration.storeLocation)
        if migrate ?? configuration.store.migrate {
            let applied = try await store.migrate()
            for name in applied { logger.info("migration applied", metadata: ["lb.migration": "\(name)"]) }
        }
        return IngestPipeline(
            store: store, mapper: mapper, queueCapacity: configuration.ingest.queueCapacity,
            maxGroupUnits: configuration.ingest.maxGroupMessages)
    }

    func services(_ configuration: GatewayConfiguration, anchoring: AnchorService, logger: Logger) async throws -> GatewayServices {
        let proofs = ProofBuilder(store: store, publicKey: anchoring.key.publicKey, tree: anchoring.ledgerTree)
        let tokens: AccessTokenVerifier
        do {
            tokens = try await AccessTokenVerifier.make(
                configuration.auth, secret: try SecretFile.loadOrCreate(at: configuration.jwtSecretPath, bytes: 32))
        } catch {
            throw CLIError("auth: \(error)")
        }
        if let problem = tokens.jwksProblem {
            logger.warning(
                "the identity provider's keys are not loaded yet; its tokens are refused until they are", metadata: ["lb.problem": "\(problem)"])
        }
        return GatewayServices(
            hl7: hl7, fhir: fhir, store: store, configuration: configuration.http, ledger: LedgerServices(proofs: proofs, anchoring: anchoring),
            tokens: tokens)
    }

    /// The anchor service over this store: the gateway's key and the configured backends.
    func anchorService(_ configuration: GatewayConfiguration, logger: Logger) throws -> AnchorService {
        do {
            let key = try GatewayKey.loadOrCreate(at: configuration.ledgerKeyPath)
            let backends = try configuration.ledger.makeBackends(dataDirectory: configuration.dataDirectory)
            return AnchorService(store: store, key: key, backends: backends, schedule: configuration.ledger.schedule, logger: logger)
        } catch {
            throw CLIError("ledger: \(error)")
        }
    }
}

enum LogSetup {
    /// Log lines on stderr at the configured level; called once per process.
    static func bootstrap(level: String) -> Logger {
        let parsed = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in StandardErrorLogHandler(label: label, level: parsed) }
        var logger = Logger(label: "ledgerbridge")
        logger.logLevel = parsed
        return logger
    }
}

/// swift-log's standard-error handler, with its metadata formatted only for the lines it writes. `StreamLogHandler`
/// formats its metadata each time a value is set, and Hummingbird sets a request id on every request's logger: on a
/// busy FHIR API that was 2% of the gateway's CPU, for lines the log level then dropped.
struct StandardErrorLogHandler: LogHandler {
    private var stream: StreamLogHandler
    var metadata: Logger.Metadata = [:]

    init(label: String, level: Logger.Level) {
        stream = .standardError(label: label)
        stream.logLevel = level
    }

    var logLevel: Logger.Level {
        get { stream.logLevel }
        set { stream.logLevel = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { stream.metadataProvider }
        set { stream.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var event = event
        if !metadata.isEmpty { event.metadata = metadata.merging(event.metadata ?? [:]) { $1 } }
        stream.log(event: event)
    }
}
