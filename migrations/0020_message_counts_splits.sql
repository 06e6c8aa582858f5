-- The counts gain keys that the rows counted so far lack: they are counted again from the messages
-- in the next migration (0021), once the trigger keeps the new keys.
DELETE FROM message_counts;--> statement-breakpoint
ALTER TABLE "message_counts" ADD COLUMN "step_id" text NOT NULL;--> statement-breakpoint
ALTER TABLE "message_counts" ADD COLUMN "persona" text NOT NULL;--> statement-breakpoint
ALTER TABLE "message_counts" ADD COLUMN "channel" text NOT NULL;--> statement-breakpoint
ALTER TABLE "message_counts" ADD COLUMN "day" date NOT NULL;--> statement-breakpoint
ALTER TABLE "message_counts" ADD COLUMN "delivered" boolean NOT NULL;--> statement-breakpoint
CREATE INDEX "consent_events_withdraw_idx" ON "consent_events" USING btree ("id") WHERE action = 'withdraw';