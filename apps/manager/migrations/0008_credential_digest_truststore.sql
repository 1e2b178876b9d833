ALTER TABLE "credentials" ADD COLUMN "digest_ha1" text;--> statement-breakpoint
ALTER TABLE "credentials" ADD COLUMN "truststore" jsonb DEFAULT '[]'::jsonb NOT NULL;