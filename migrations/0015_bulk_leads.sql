DROP INDEX "leads_tags_idx";--> statement-breakpoint
CREATE INDEX "leads_erased_idx" ON "leads" USING btree ("id") WHERE "leads"."erased_at" IS NOT NULL;