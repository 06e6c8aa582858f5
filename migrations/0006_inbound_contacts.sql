CREATE TABLE "sessions" (
	"id_hash" text PRIMARY KEY NOT NULL,
	"user_id" bigint NOT NULL,
	"csrf_token" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"email" text NOT NULL,
	"name" text NOT NULL,
	"role" text NOT NULL,
	"password_hash" text NOT NULL,
	"languages" text[] DEFAULT '{}' NOT NULL,
	"available" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"disabled_at" timestamp with time zone,
	CONSTRAINT "users_email_unique" UNIQUE("email")
);
--> statement-breakpoint
CREATE TABLE "inbound_contact_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"contact_id" bigint NOT NULL,
	"action" text NOT NULL,
	"actor" text NOT NULL,
	"detail" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "inbound_contacts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"channel" text NOT NULL,
	"external_id" text NOT NULL,
	"kind" text NOT NULL,
	"lead_id" bigint,
	"message_id" bigint,
	"identified_by" text,
	"campaign_id" text,
	"step_id" text,
	"template" text,
	"from_address" text NOT NULL,
	"to_address" text,
	"subject" text,
	"text" text NOT NULL,
	"body_text" text NOT NULL,
	"language" text,
	"category" text NOT NULL,
	"priority" text NOT NULL,
	"queue" text,
	"rule" text,
	"status" text NOT NULL,
	"assignee_id" bigint,
	"due_at" timestamp with time zone,
	"escalated_at" timestamp with time zone,
	"escalated_to" bigint,
	"resolution" text,
	"received_at" timestamp with time zone NOT NULL,
	"accepted_at" timestamp with time zone,
	"closed_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "enrollments" ADD COLUMN "replied_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inbound_contact_events" ADD CONSTRAINT "inbound_contact_events_contact_id_inbound_contacts_id_fk" FOREIGN KEY ("contact_id") REFERENCES "public"."inbound_contacts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inbound_contacts" ADD CONSTRAINT "inbound_contacts_lead_id_leads_id_fk" FOREIGN KEY ("lead_id") REFERENCES "public"."leads"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inbound_contacts" ADD CONSTRAINT "inbound_contacts_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inbound_contacts" ADD CONSTRAINT "inbound_contacts_assignee_id_users_id_fk" FOREIGN KEY ("assignee_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inbound_contacts" ADD CONSTRAINT "inbound_contacts_escalated_to_users_id_fk" FOREIGN KEY ("escalated_to") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "inbound_contact_events_contact_idx" ON "inbound_contact_events" USING btree ("contact_id");--> statement-breakpoint
CREATE UNIQUE INDEX "inbound_contacts_external_idx" ON "inbound_contacts" USING btree ("channel","external_id");--> statement-breakpoint
CREATE INDEX "inbound_contacts_open_idx" ON "inbound_contacts" USING btree ("queue","status") WHERE status <> 'closed';--> statement-breakpoint
CREATE INDEX "inbound_contacts_due_idx" ON "inbound_contacts" USING btree ("due_at") WHERE status IN ('new', 'assigned') AND escalated_at IS NULL;--> statement-breakpoint
CREATE INDEX "inbound_contacts_lead_idx" ON "inbound_contacts" USING btree ("lead_id");