CREATE TABLE "identity_sources" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"type" text NOT NULL,
	"project_id" uuid,
	"config" jsonb NOT NULL,
	"secret" text,
	"role_mappings" jsonb NOT NULL,
	"timeout_ms" integer NOT NULL,
	"cache_ttl_seconds" integer NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "identity_sources_name_unique" UNIQUE("name")
);
--> statement-breakpoint
ALTER TABLE "identity_sources" ADD CONSTRAINT "identity_sources_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "identity_sources_project_idx" ON "identity_sources" USING btree ("project_id");