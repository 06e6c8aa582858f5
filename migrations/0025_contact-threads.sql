CREATE TABLE "inbound_contact_messages" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"contact_id" bigint NOT NULL,
	"channel" text NOT NULL,
	"external_id" text NOT NULL,
	"from_address" text NOT NULL,
	"subject" text,
	"text" text NOT NULL,
	"body_text" text NOT NULL,
	"received_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "inbound_contacts" ADD COLUMN "last_received_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "inbound_contacts" ADD COLUMN "repeat_of" bigint;--> statement-breakpoint
ALTER TABLE "inbound_contact_messages" ADD CONSTRAINT "inbound_contact_messages_contact_id_inbound_contacts_id_fk" FOREIGN KEY ("contact_id") REFERENCES "public"."inbound_contacts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "inbound_contact_messages_external_idx" ON "inbound_contact_messages" USING btree ("channel","external_id");--> statement-breakpoint
CREATE INDEX "inbound_contact_messages_contact_idx" ON "inbound_contact_messages" USING btree ("contact_id");--> statement-breakpoint
ALTER TABLE "inbound_contacts" ADD CONSTRAINT "inbound_contacts_repeat_of_inbound_contacts_id_fk" FOREIGN KEY ("repeat_of") REFERENCES "public"."inbound_contacts"("id") ON DELETE no action ON UPDATE no action;