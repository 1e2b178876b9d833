CREATE TABLE "key_managers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"type" text NOT NULL,
	"project_id" uuid,
	"issuer" text,
	"settings" jsonb NOT NULL,
	"client_secret" text,
	"shared_secret" text,
	"tls_client_key" text,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "key_managers_name_unique" UNIQUE("name"),
	CONSTRAINT "key_managers_issuer_unique" UNIQUE("issuer")
);
--> statement-breakpoint
ALTER TABLE "key_managers" ADD CONSTRAINT "key_managers_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "key_managers_project_idx" ON "key_managers" USING btree ("project_id");