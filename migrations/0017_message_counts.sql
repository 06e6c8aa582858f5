CREATE TABLE "message_counts" (
	"campaign_id" text NOT NULL,
	"occurrence" text NOT NULL,
	"state" text NOT NULL,
	"reason" text,
	"possible_duplicate" boolean NOT NULL,
	"lead_id" bigint NOT NULL,
	"n" bigint NOT NULL
);
--> statement-breakpoint
DROP INDEX "messages_provider_idx";--> statement-breakpoint
CREATE INDEX "message_counts_campaign_idx" ON "message_counts" USING btree ("campaign_id","occurrence");--> statement-breakpoint
CREATE INDEX "inbound_contacts_campaign_idx" ON "inbound_contacts" USING btree ("campaign_id");--> statement-breakpoint
CREATE INDEX "messages_provider_idx" ON "messages" USING btree ("provider_id") WHERE channel = 'sms';