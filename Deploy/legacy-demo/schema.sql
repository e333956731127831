-- A sample legacy hospital database, as Ledgerbridge's pollers meet them: an HL7 message log, a FHIR XML export
-- table, a C-CDA document export table, and a plain patients table. The demo (Deploy/README.md) and the poller tests use it.
-- Apply with: psql -d legacy -f Deploy/legacy-demo/schema.sql && psql -d legacy -f Deploy/legacy-demo/seed.sql

CREATE TABLE hl7_message_log (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    message     text NOT NULL
);

CREATE TABLE fhir_exports (
    id            bigserial PRIMARY KEY,
    exported_at   timestamptz NOT NULL DEFAULT now(),
    resource_type text NOT NULL,
    resource_xml  text NOT NULL
);

CREATE TABLE document_exports (
    id          bigserial PRIMARY KEY,
    exported_at timestamptz NOT NULL DEFAULT now(),
    document    text NOT NULL            -- a C-CDA ClinicalDocument
);

CREATE TABLE patients (
    patient_id  bigserial PRIMARY KEY,
    mrn         text NOT NULL UNIQUE,
    family_name text,
    given_name  text,
    birth_date  date,
    sex         char(1),
    phone       text,
    city        text,
    postal_code text,
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Rows changed later get a new updated_at, so the (updated_at, patient_id) watermark sees them again.
CREATE FUNCTION patients_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END $$;
CREATE TRIGGER patients_touch BEFORE UPDATE ON patients FOR EACH ROW EXECUTE FUNCTION patients_touch();

-- Wake Ledgerbridge's pollers at once (notifyChannel: ledgerbridge) instead of at their next interval.
CREATE FUNCTION ledgerbridge_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ledgerbridge', TG_TABLE_NAME);
    RETURN NULL;
END $$;
CREATE TRIGGER hl7_message_log_notify AFTER INSERT ON hl7_message_log FOR EACH STATEMENT EXECUTE FUNCTION ledgerbridge_notify();
CREATE TRIGGER fhir_exports_notify AFTER INSERT ON fhir_exports FOR EACH STATEMENT EXECUTE FUNCTION ledgerbridge_notify();
CREATE TRIGGER patients_notify AFTER INSERT OR UPDATE ON patients FOR EACH STATEMENT EXECUTE FUNCTION ledgerbridge_notify();
