-- Every commit that queues messages wakes the dispatchers (LISTEN touchpoint_dispatch), whichever
-- code path queued them: recording, retries, re-queued claims of a dead dispatcher.
CREATE FUNCTION messages_notify_dispatchers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM changed WHERE status = 'queued') THEN
    PERFORM pg_notify('touchpoint_dispatch', '');
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER messages_queued_insert AFTER INSERT ON messages
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION messages_notify_dispatchers();
--> statement-breakpoint
CREATE TRIGGER messages_queued_update AFTER UPDATE ON messages
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION messages_notify_dispatchers();
