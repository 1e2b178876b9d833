ALTER TABLE "credentials" ADD COLUMN "email" text;--> statement-breakpoint
ALTER TABLE "credentials" ADD COLUMN "full_name" text;--> statement-breakpoint
ALTER TABLE "credentials" ADD COLUMN "description" text;--> statement-breakpoint
ALTER TABLE "credentials" ADD COLUMN "roles" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "credentials" ADD COLUMN "metadata" jsonb DEFAULT '[]'::jsonb NOT NULL;