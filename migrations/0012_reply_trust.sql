ALTER TABLE "inbound_contacts" ADD COLUMN "trust" text;--> statement-breakpoint
ALTER TABLE "inbound_contacts" ADD COLUMN "envelope_from" text;--> statement-breakpoint
-- Contacts received before trust levels: the signed reply token, and a text answering our last text
-- to that number, proved who wrote. Message-IDs were sequential until now, so a match by headers
-- proves nothing, and neither does a sender's address or a number we never texted.
UPDATE "inbound_contacts" SET "trust" = CASE
    WHEN "identified_by" = 'token' THEN 'verified'
    WHEN "identified_by" = 'number' AND "message_id" IS NOT NULL THEN 'verified'
    ELSE 'unverified'
  END
  WHERE "identified_by" IS NOT NULL;
