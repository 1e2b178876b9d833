ALTER TABLE "identity_sources" ADD COLUMN "operator_login" jsonb;--> statement-breakpoint
ALTER TABLE "operators" ADD COLUMN "source_id" uuid;--> statement-breakpoint
ALTER TABLE "operators" ADD COLUMN "subject" text;--> statement-breakpoint
ALTER TABLE "operators" ADD CONSTRAINT "operators_source_id_identity_sources_id_fk" FOREIGN KEY ("source_id") REFERENCES "public"."identity_sources"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "operators_source_subject_idx" ON "operators" USING btree ("source_id","subject");