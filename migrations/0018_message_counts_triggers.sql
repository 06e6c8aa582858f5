-- Where each campaign occurrence's messages stand, for its report, without reading the messages:
-- every statement that records or changes messages appends what it changed to message_counts
-- (src/messages/schema.ts), whichever code path ran it (recording, claims, sends, retries,
-- withdrawals, erasure). An update appends, per key, the rows it brought in minus those it took out.

-- What a message counts as: its status, with a queued message attempted before counted as retrying;
-- its reason when it was suppressed or failed; whether it may have been sent twice when it was sent.
-- (A set-returning SQL function, so that PostgreSQL inlines it into each query instead of calling it per row.)
CREATE FUNCTION message_count_key(status text, attempts integer, reason text, possible_duplicate boolean)
  RETURNS TABLE (state text, counted_reason text, duplicate boolean)
  LANGUAGE sql IMMUTABLE PARALLEL SAFE ROWS 1 AS $$
  SELECT CASE WHEN status = 'queued' AND attempts > 0 THEN 'retrying' ELSE status END,
         CASE WHEN status IN ('suppressed', 'failed') THEN reason END,
         status = 'sent' AND possible_duplicate
$$;
--> statement-breakpoint
CREATE FUNCTION messages_count_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO message_counts (campaign_id, occurrence, state, reason, possible_duplicate, lead_id, n)
    SELECT m.campaign_id, m.occurrence, k.state, k.counted_reason, k.duplicate, min(m.lead_id), count(*)
      FROM added m, message_count_key(m.status, m.attempts, m.reason, m.possible_duplicate) k
     GROUP BY 1, 2, 3, 4, 5;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO message_counts (campaign_id, occurrence, state, reason, possible_duplicate, lead_id, n)
    SELECT m.campaign_id, m.occurrence, k.state, k.counted_reason, k.duplicate, min(m.lead_id), -count(*)
      FROM removed m, message_count_key(m.status, m.attempts, m.reason, m.possible_duplicate) k
     GROUP BY 1, 2, 3, 4, 5;
  ELSE
    INSERT INTO message_counts (campaign_id, occurrence, state, reason, possible_duplicate, lead_id, n)
    SELECT m.campaign_id, m.occurrence, k.state, k.counted_reason, k.duplicate, min(m.lead_id), sum(m.n)
      FROM (SELECT campaign_id, occurrence, status, attempts, reason, possible_duplicate, lead_id, 1 AS n FROM added
            UNION ALL
            SELECT campaign_id, occurrence, status, attempts, reason, possible_duplicate, lead_id, -1 FROM removed) AS m,
           message_count_key(m.status, m.attempts, m.reason, m.possible_duplicate) k
     GROUP BY 1, 2, 3, 4, 5
    HAVING sum(m.n) <> 0;
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER messages_count_insert AFTER INSERT ON messages
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION messages_count_changes();
--> statement-breakpoint
CREATE TRIGGER messages_count_update AFTER UPDATE ON messages
  REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION messages_count_changes();
--> statement-breakpoint
CREATE TRIGGER messages_count_delete AFTER DELETE ON messages
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION messages_count_changes();
--> statement-breakpoint
CREATE FUNCTION messages_count_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE message_counts;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER messages_count_truncate AFTER TRUNCATE ON messages
  FOR EACH STATEMENT EXECUTE FUNCTION messages_count_truncate();
--> statement-breakpoint
-- The messages recorded before the counts existed.
INSERT INTO message_counts (campaign_id, occurrence, state, reason, possible_duplicate, lead_id, n)
SELECT m.campaign_id, m.occurrence, k.state, k.counted_reason, k.duplicate, min(m.lead_id), count(*)
  FROM messages m, message_count_key(m.status, m.attempts, m.reason, m.possible_duplicate) k
 GROUP BY 1, 2, 3, 4, 5;
