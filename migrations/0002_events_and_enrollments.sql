CREATE TABLE "events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"event_key" text,
	"lead_id" bigint NOT NULL,
	"name" text NOT NULL,
	"properties" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "events_event_key_unique" UNIQUE("event_key")
);
--> statement-breakpoint
CREATE TABLE "enrollments" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"campaign_id" text NOT NULL,
	"lead_id" bigint NOT NULL,
	"occurrence" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"current_step" text,
	"next_due_at" timestamp with time zone,
	"exit_reason" text,
	"trigger_event_id" bigint,
	"enrolled_at" timestamp with time zone NOT NULL,
	"converted_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "enrollment_id" bigint;--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_lead_id_leads_id_fk" FOREIGN KEY ("lead_id") REFERENCES "public"."leads"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "enrollments" ADD CONSTRAINT "enrollments_lead_id_leads_id_fk" FOREIGN KEY ("lead_id") REFERENCES "public"."leads"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "enrollments" ADD CONSTRAINT "enrollments_trigger_event_id_events_id_fk" FOREIGN KEY ("trigger_event_id") REFERENCES "public"."events"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "events_lead_idx" ON "events" USING btree ("lead_id","occurred_at");--> statement-breakpoint
CREATE INDEX "events_name_idx" ON "events" USING btree ("name","lead_id");--> statement-breakpoint
CREATE UNIQUE INDEX "enrollments_occurrence_idx" ON "enrollments" USING btree ("campaign_id","lead_id","occurrence");--> statement-breakpoint
CREATE UNIQUE INDEX "enrollments_one_active_idx" ON "enrollments" USING btree ("campaign_id","lead_id") WHERE status = 'active';--> statement-breakpoint
CREATE INDEX "enrollments_due_idx" ON "enrollments" USING btree ("next_due_at") WHERE status = 'active';--> statement-breakpoint
CREATE INDEX "enrollments_lead_idx" ON "enrollments" USING btree ("lead_id");