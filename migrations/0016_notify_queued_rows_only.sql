-- Updates wake the dispatchers only through the rows they leave queued (a retry, a claim handed
-- back, a message made due): a row-level trigger whose WHEN is checked without calling any
-- function. The statement-level trigger of 0003 copied every updated row into a transition table,
-- for every claim, start and acceptance the dispatchers record (three statements per message),
-- to find none queued. Notifications of one transaction are folded into one, as before.
DROP TRIGGER messages_queued_update ON messages;
--> statement-breakpoint
CREATE FUNCTION messages_notify_dispatchers_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('touchpoint_dispatch', '');
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER messages_queued_update AFTER UPDATE ON messages
  FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION messages_notify_dispatchers_row();
