CREATE TABLE "webhook_receipts" (
	"provider" text NOT NULL,
	"delivery_id" text NOT NULL,
	"kind" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "webhook_receipts_provider_delivery_id_pk" PRIMARY KEY("provider","delivery_id")
);
