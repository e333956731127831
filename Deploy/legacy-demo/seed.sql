-- Seed data for the sample legacy database: two sources' view of the same patient (MRN 4711 at HOSP) and one more.
-- Segments end with carriage returns (chr(13)), as HL7 v2 requires.

INSERT INTO hl7_message_log (message) VALUES
('MSH|^~\&|ADT1|HOSP|LEDGERBRIDGE|HOSP|20260301083000+0100||ADT^A01^ADT_A01|ADT1-0001|P|2.5.1' || chr(13) ||
 'EVN|A01|20260301083000+0100' || chr(13) ||
 'PID|1||4711^^^HOSP^MR||Muster^Erika^M||19640812|F|||Hauptstr. 1^^Berlin^^10115^DE||^PRN^PH^^^30^1234567' || chr(13) ||
 'PV1|1|I|STATION1^101^1||||||||||||||||V1001^^^HOSP^VN|||||||||||||||||||||||||20260301083000+0100' || chr(13)),
('MSH|^~\&|LAB|HOSP|LEDGERBRIDGE|HOSP|20260302101500+0100||ORU^R01^ORU_R01|LAB-0001|P|2.5.1' || chr(13) ||
 'PID|1||4711^^^HOSP^MR||Muster^Erika||19640812|F' || chr(13) ||
 'OBR|1|ORD1^HOSP|FIL1^LAB|24331-1^Lipid panel^LN|||20260302093000+0100|||||||||||||||20260302101500+0100|||F' || chr(13) ||
 'OBX|1|NM|2093-3^Cholesterol^LN||212|mg/dL^mg/dL^UCUM|<200|H|||F|||20260302093000+0100' || chr(13) ||
 'OBX|2|NM|2571-8^Triglyceride^LN||150|mg/dL^mg/dL^UCUM|<150|N|||F|||20260302093000+0100' || chr(13)),
('MSH|^~\&|ADT1|HOSP|LEDGERBRIDGE|HOSP|20260303090000+0100||ADT^A01^ADT_A01|ADT1-0002|P|2.5.1' || chr(13) ||
 'PID|1||4712^^^HOSP^MR||Beispiel^Max||19900101|M' || chr(13) ||
 'PV1|1|O|AMB1^^^||||||||||||||||V1002^^^HOSP^VN' || chr(13));

INSERT INTO fhir_exports (resource_type, resource_xml) VALUES
('Patient', '<Patient xmlns="http://hl7.org/fhir"><id value="pat-4713"/><identifier><system value="urn:oid:1.2.276.0.76.4.8"/><value value="4713"/></identifier><name><family value="Schmidt"/><given value="Anna"/></name><gender value="female"/><birthDate value="1975-05-05"/></Patient>');

INSERT INTO patients (mrn, family_name, given_name, birth_date, sex, phone, city, postal_code) VALUES
('4711', 'Muster', 'Erika', '1964-08-12', 'F', '+49 30 1234567', 'Berlin', '10115'),
('4714', 'Meier', 'Hans', '1950-02-28', 'M', NULL, 'Hamburg', '20095');
