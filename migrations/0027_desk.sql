CREATE TABLE "agent_notifications" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"idempotency_key" text NOT NULL,
	"user_id" bigint NOT NULL,
	"contact_id" bigint NOT NULL,
	"kind" text NOT NULL,
	"to_address" text NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"due_at" timestamp with time zone NOT NULL,
	"claimed_at" timestamp with time zone,
	"attempted_at" timestamp with time zone,
	"provider_id" text,
	"possible_duplicate" boolean DEFAULT false NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone NOT NULL,
	"sent_at" timestamp with time zone,
	CONSTRAINT "agent_notifications_idempotency_key_unique" UNIQUE("idempotency_key")
);
--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "notify" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "inbound_contacts" ADD COLUMN "search" "tsvector" GENERATED ALWAYS AS (to_tsvector('german', coalesce(subject, '') || ' ' || body_text) || to_tsvector('english', coalesce(subject, '') || ' ' || body_text)) STORED;--> statement-breakpoint
ALTER TABLE "agent_notifications" ADD CONSTRAINT "agent_notifications_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_notifications" ADD CONSTRAINT "agent_notifications_contact_id_inbound_contacts_id_fk" FOREIGN KEY ("contact_id") REFERENCES "public"."inbound_contacts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "agent_notifications_due_idx" ON "agent_notifications" USING btree ("due_at","id") WHERE status = 'queued';--> statement-breakpoint
CREATE INDEX "inbound_contacts_search_idx" ON "inbound_contacts" USING gin ("search");