CREATE TABLE "csat_answers" (
	"contact_id" bigint PRIMARY KEY NOT NULL,
	"lead_id" bigint,
	"score" integer NOT NULL,
	"comment" text,
	"via" text NOT NULL,
	"agent_id" bigint,
	"queue" text,
	"campaign_id" text,
	"step_id" text,
	"version" integer DEFAULT 1 NOT NULL,
	"answered_at" timestamp with time zone NOT NULL,
	CONSTRAINT "csat_answers_score_check" CHECK ("csat_answers"."score" BETWEEN 1 AND 5)
);
--> statement-breakpoint
ALTER TABLE "inbound_contacts" ADD COLUMN "sentiment" real;--> statement-breakpoint
ALTER TABLE "csat_answers" ADD CONSTRAINT "csat_answers_contact_id_inbound_contacts_id_fk" FOREIGN KEY ("contact_id") REFERENCES "public"."inbound_contacts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "csat_answers" ADD CONSTRAINT "csat_answers_lead_id_leads_id_fk" FOREIGN KEY ("lead_id") REFERENCES "public"."leads"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "csat_answers" ADD CONSTRAINT "csat_answers_agent_id_users_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "csat_answers_campaign_idx" ON "csat_answers" USING btree ("campaign_id");