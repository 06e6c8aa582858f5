CREATE TABLE "test_sends" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"campaign_id" text NOT NULL,
	"step_id" text NOT NULL,
	"channel" text NOT NULL,
	"template" text NOT NULL,
	"lead_id" bigint,
	"persona" text NOT NULL,
	"locale" text,
	"to_address" text NOT NULL,
	"requested_by" text NOT NULL,
	"status" text NOT NULL,
	"provider_id" text,
	"error" text,
	"created_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "test_sends" ADD CONSTRAINT "test_sends_lead_id_leads_id_fk" FOREIGN KEY ("lead_id") REFERENCES "public"."leads"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "test_sends_campaign_idx" ON "test_sends" USING btree ("campaign_id","created_at");