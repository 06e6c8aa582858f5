ALTER TABLE "consent_events" ADD COLUMN "notice_version" text;--> statement-breakpoint
ALTER TABLE "consent_events" ADD COLUMN "notice_hash" text;--> statement-breakpoint
ALTER TABLE "consent_events" ADD COLUMN "subject_hash" text;--> statement-breakpoint
ALTER TABLE "consent_events" ADD COLUMN "prev_hash" text;--> statement-breakpoint
ALTER TABLE "consent_events" ADD COLUMN "hash" text;--> statement-breakpoint
CREATE INDEX "consent_events_subject_idx" ON "consent_events" USING btree ("subject_hash");