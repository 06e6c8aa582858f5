CREATE TABLE "email_address_states" (
	"lead_id" bigint NOT NULL,
	"address" text NOT NULL,
	"status" text NOT NULL,
	"bounce_id" bigint,
	"changed_at" timestamp with time zone NOT NULL,
	CONSTRAINT "email_address_states_lead_id_address_pk" PRIMARY KEY("lead_id","address")
);
--> statement-breakpoint
CREATE TABLE "email_bounces" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"lead_id" bigint NOT NULL,
	"message_id" bigint NOT NULL,
	"address" text,
	"outcome" text NOT NULL,
	"source" text NOT NULL,
	"action" text,
	"status" text,
	"diagnostic" text,
	"final_recipient" text,
	"mail_id" text,
	"received_at" timestamp with time zone NOT NULL,
	CONSTRAINT "email_bounces_message_outcome_key" UNIQUE("message_id","outcome")
);
--> statement-breakpoint
ALTER TABLE "email_address_states" ADD CONSTRAINT "email_address_states_lead_id_leads_id_fk" FOREIGN KEY ("lead_id") REFERENCES "public"."leads"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "email_address_states" ADD CONSTRAINT "email_address_states_bounce_id_email_bounces_id_fk" FOREIGN KEY ("bounce_id") REFERENCES "public"."email_bounces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "email_bounces" ADD CONSTRAINT "email_bounces_lead_id_leads_id_fk" FOREIGN KEY ("lead_id") REFERENCES "public"."leads"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "email_bounces" ADD CONSTRAINT "email_bounces_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "email_bounces_address_idx" ON "email_bounces" USING btree ("lead_id","address");