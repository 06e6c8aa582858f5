DROP INDEX "messages_due_idx";--> statement-breakpoint
CREATE INDEX "messages_due_idx" ON "messages" USING btree ("due_at","id") WHERE status = 'queued';