CREATE TABLE "spam_complaints" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"message_id" bigint NOT NULL,
	"lead_id" bigint NOT NULL,
	"campaign_id" text NOT NULL,
	"report_id" text NOT NULL,
	"feedback_type" text NOT NULL,
	"reporter" text,
	"identified_by" text NOT NULL,
	"report_sha256" text NOT NULL,
	"received_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "spam_complaints" ADD CONSTRAINT "spam_complaints_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "spam_complaints" ADD CONSTRAINT "spam_complaints_lead_id_leads_id_fk" FOREIGN KEY ("lead_id") REFERENCES "public"."leads"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "spam_complaints_message_idx" ON "spam_complaints" USING btree ("message_id");--> statement-breakpoint
CREATE INDEX "spam_complaints_campaign_idx" ON "spam_complaints" USING btree ("campaign_id");