DROP INDEX "credentials_project_team_idx";--> statement-breakpoint
CREATE INDEX "credentials_project_team_username_idx" ON "credentials" USING btree ("project_id","team_id","username");