-- Tamper evidence for the consent ledger: every event is linked to the one before it and sealed
-- with a SHA-256 over a canonical serialisation; a keyed hash of the address it is about
-- survives erasure of the lead. Writers are serialised by a transaction lock, so the chain order
-- is the id order.
INSERT INTO settings (key, value)
VALUES ('ledger_subject_key', encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text || clock_timestamp()::text, 'UTF8')), 'hex'))
ON CONFLICT (key) DO NOTHING;
--> statement-breakpoint
CREATE FUNCTION consent_subject_hash(address text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN address IS NULL OR btrim(address) = '' THEN NULL ELSE
    encode(sha256(convert_to((SELECT value FROM settings WHERE key = 'ledger_subject_key') || ':' || lower(btrim(address)), 'UTF8')), 'hex')
  END
$$;
--> statement-breakpoint
CREATE FUNCTION consent_event_canonical(e consent_events) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_array(
    e.id, e.lead_id, e.channel, e.purpose, e.action, e.source, e.evidence, e.actor,
    to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    to_char(e.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    e.notice_version, e.notice_hash, e.subject_hash, e.prev_hash
  )::text
$$;
--> statement-breakpoint
CREATE FUNCTION consent_event_digest(e consent_events) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT encode(sha256(convert_to(consent_event_canonical(e), 'UTF8')), 'hex')
$$;
--> statement-breakpoint
CREATE FUNCTION consent_events_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  previous text;
BEGIN
  -- One writer at a time extends the chain; the lock is held until its transaction ends, and the
  -- id is taken under it, so ids follow the chain.
  PERFORM pg_advisory_xact_lock(7245005);
  NEW.id := nextval(pg_get_serial_sequence('consent_events', 'id'));
  IF NEW.subject_hash IS NULL THEN
    SELECT consent_subject_hash(CASE NEW.channel WHEN 'email' THEN l.email ELSE l.phone END)
      INTO NEW.subject_hash FROM leads l WHERE l.id = NEW.lead_id;
  END IF;
  SELECT hash INTO previous FROM consent_events ORDER BY id DESC LIMIT 1;
  NEW.prev_hash := coalesce(previous, '');
  NEW.hash := consent_event_digest(NEW);
  RETURN NEW;
END;
$$;
--> statement-breakpoint
ALTER TABLE consent_events DISABLE TRIGGER consent_events_append_only;
--> statement-breakpoint
DO $$
DECLARE
  r consent_events;
  previous text := '';
BEGIN
  FOR r IN SELECT * FROM consent_events ORDER BY id LOOP
    r.subject_hash := (SELECT consent_subject_hash(CASE r.channel WHEN 'email' THEN l.email ELSE l.phone END) FROM leads l WHERE l.id = r.lead_id);
    r.prev_hash := previous;
    r.hash := consent_event_digest(r);
    UPDATE consent_events SET subject_hash = r.subject_hash, prev_hash = r.prev_hash, hash = r.hash WHERE id = r.id;
    previous := r.hash;
  END LOOP;
END;
$$;
--> statement-breakpoint
ALTER TABLE consent_events ENABLE TRIGGER consent_events_append_only;
--> statement-breakpoint
CREATE TRIGGER consent_events_chain BEFORE INSERT ON consent_events FOR EACH ROW EXECUTE FUNCTION consent_events_chain();
--> statement-breakpoint
REVOKE UPDATE, DELETE, TRUNCATE ON consent_events FROM PUBLIC;
