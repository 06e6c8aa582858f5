-- Bulk appends seal their events themselves: a writer holding the chain lock may insert events
-- that already carry their id, link and seal (consent import seals a batch at a time in the
-- application and sends it by COPY), and the per-row trigger of migration 0008 then leaves them
-- as they are, since computing each seal again in SQL would cost as much as the rest of the import.
-- Whatever wrote them, every statement's events must extend the chain where it ends: a statement
-- trigger checks, under the chain lock, that they follow the last event before them, each links to
-- the one before it, and nothing lies beyond them. A wrong seal is what `consent verify` names.
DROP TRIGGER consent_events_chain ON consent_events;
--> statement-breakpoint
CREATE TRIGGER consent_events_chain BEFORE INSERT ON consent_events FOR EACH ROW WHEN (NEW.hash IS NULL) EXECUTE FUNCTION consent_events_chain();
--> statement-breakpoint
CREATE FUNCTION consent_events_linked() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  first_id bigint;
  last_id bigint;
  before_first text;
  unlinked bigint;
BEGIN
  -- Waits for any other writer of the chain to finish; the queries below then see what it wrote.
  PERFORM pg_advisory_xact_lock(7245005);
  SELECT min(id), max(id) INTO first_id, last_id FROM added;
  IF first_id IS NULL THEN
    RETURN NULL;
  END IF;
  -- (max() reads the end of the primary key; EXISTS (… id > last_id) may be planned as a full scan)
  IF (SELECT max(id) FROM consent_events) > last_id THEN
    RAISE EXCEPTION 'consent events % to % do not end the chain: later events exist', first_id, last_id;
  END IF;
  SELECT coalesce((SELECT p.hash FROM consent_events p WHERE p.id < first_id ORDER BY p.id DESC LIMIT 1), '') INTO before_first;
  -- (lag with a default value costs six times as much as without one)
  SELECT a.id INTO unlinked FROM (SELECT id, prev_hash, lag(hash) OVER (ORDER BY id) AS expected FROM added) a
   WHERE a.prev_hash IS DISTINCT FROM (CASE WHEN a.id = first_id THEN before_first ELSE a.expected END)
   LIMIT 1;
  IF unlinked IS NOT NULL THEN
    RAISE EXCEPTION 'consent event % does not link to the event before it in the chain', unlinked;
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER consent_events_linked AFTER INSERT ON consent_events REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION consent_events_linked();
--> statement-breakpoint
-- The subject hash with the key as an argument: a statement hashing thousands of addresses reads
-- the key once, and PostgreSQL inlines the function (each argument is used once). The one-argument
-- form, which the insert trigger and lead search use, reads the key and hashes the same way.
CREATE FUNCTION consent_subject_hash(address text, subject_key text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT encode(sha256(convert_to(subject_key || ':' || lower(nullif(btrim(address), '')), 'UTF8')), 'hex')
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION consent_subject_hash(address text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT consent_subject_hash(address, (SELECT value FROM settings WHERE key = 'ledger_subject_key'))
$$;
