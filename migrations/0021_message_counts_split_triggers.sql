-- The counts of message_counts (0017, 0018) keyed also by step, persona, channel, day and delivery,
-- so that a campaign's report splits its figures without reading the messages (campaigns/report.ts).

-- What else a message counts as: the UTC day it was sent (recorded, while unsent), and whether it was
-- delivered (email: accepted by the SMTP server; SMS: reported delivered by Twilio).
CREATE FUNCTION message_count_split(status text, channel text, delivery_status text, sent_at timestamptz, created_at timestamptz)
  RETURNS TABLE (day date, delivered boolean)
  LANGUAGE sql IMMUTABLE PARALLEL SAFE ROWS 1 AS $$
  SELECT (coalesce(sent_at, created_at) AT TIME ZONE 'UTC')::date,
         status = 'sent' AND (channel = 'email' OR coalesce(delivery_status = 'delivered', false))
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION messages_count_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO message_counts (campaign_id, occurrence, state, reason, possible_duplicate, step_id, persona, channel, day, delivered, lead_id, n)
    SELECT m.campaign_id, m.occurrence, k.state, k.counted_reason, k.duplicate, m.step_id, m.persona, m.channel, s.day, s.delivered,
           min(m.lead_id), count(*)
      FROM added m, message_count_key(m.status, m.attempts, m.reason, m.possible_duplicate) k,
           message_count_split(m.status, m.channel, m.delivery_status, m.sent_at, m.created_at) s
     GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO message_counts (campaign_id, occurrence, state, reason, possible_duplicate, step_id, persona, channel, day, delivered, lead_id, n)
    SELECT m.campaign_id, m.occurrence, k.state, k.counted_reason, k.duplicate, m.step_id, m.persona, m.channel, s.day, s.delivered,
           min(m.lead_id), -count(*)
      FROM removed m, message_count_key(m.status, m.attempts, m.reason, m.possible_duplicate) k,
           message_count_split(m.status, m.channel, m.delivery_status, m.sent_at, m.created_at) s
     GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;
  ELSE
    INSERT INTO message_counts (campaign_id, occurrence, state, reason, possible_duplicate, step_id, persona, channel, day, delivered, lead_id, n)
    SELECT m.campaign_id, m.occurrence, k.state, k.counted_reason, k.duplicate, m.step_id, m.persona, m.channel, s.day, s.delivered,
           min(m.lead_id), sum(m.n)
      FROM (SELECT campaign_id, occurrence, status, attempts, reason, possible_duplicate, step_id, persona, channel, delivery_status,
                   sent_at, created_at, lead_id, 1 AS n FROM added
            UNION ALL
            SELECT campaign_id, occurrence, status, attempts, reason, possible_duplicate, step_id, persona, channel, delivery_status,
                   sent_at, created_at, lead_id, -1 FROM removed) AS m,
           message_count_key(m.status, m.attempts, m.reason, m.possible_duplicate) k,
           message_count_split(m.status, m.channel, m.delivery_status, m.sent_at, m.created_at) s
     GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
    HAVING sum(m.n) <> 0;
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- The messages counted so far, again, with the new keys (0020 emptied the counts).
INSERT INTO message_counts (campaign_id, occurrence, state, reason, possible_duplicate, step_id, persona, channel, day, delivered, lead_id, n)
SELECT m.campaign_id, m.occurrence, k.state, k.counted_reason, k.duplicate, m.step_id, m.persona, m.channel, s.day, s.delivered,
       min(m.lead_id), count(*)
  FROM messages m, message_count_key(m.status, m.attempts, m.reason, m.possible_duplicate) k,
       message_count_split(m.status, m.channel, m.delivery_status, m.sent_at, m.created_at) s
 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;
