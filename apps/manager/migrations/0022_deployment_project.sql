-- Whether an environment shows a project's credentials (a proxy of the project deployed there)
-- becomes one primary-key probe of environment_projects, kept here by triggers, instead of a walk
-- over the project's proxies (issue #13). A deployment carries its proxy's project so that the
-- trigger knows it even when the proxy is already gone (a cascaded delete).
CREATE TABLE "environment_projects" (
	"project_id" uuid NOT NULL,
	"environment_id" uuid NOT NULL,
	"proxies" integer NOT NULL,
	CONSTRAINT "environment_projects_project_id_environment_id_pk" PRIMARY KEY("project_id","environment_id")
);
--> statement-breakpoint
ALTER TABLE "proxy_deployments" ADD COLUMN "project_id" uuid;--> statement-breakpoint
UPDATE "proxy_deployments" d SET "project_id" = p."project_id" FROM "api_proxies" p WHERE p."id" = d."proxy_id";--> statement-breakpoint
ALTER TABLE "proxy_deployments" ALTER COLUMN "project_id" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "proxy_deployments" ADD CONSTRAINT "proxy_deployments_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "proxy_deployments_project_environment_idx" ON "proxy_deployments" USING btree ("project_id","environment_id");--> statement-breakpoint
INSERT INTO "environment_projects" ("project_id", "environment_id", "proxies")
	SELECT "project_id", "environment_id", count(*) FROM "proxy_deployments" GROUP BY 1, 2;--> statement-breakpoint
-- One statement's deployments at a time (transition tables): a bulk insert or a cascaded delete
-- of thousands of rows updates each (project, environment) count once.
CREATE FUNCTION "environment_projects_count"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO "environment_projects" ("project_id", "environment_id", "proxies")
      SELECT "project_id", "environment_id", count(*) FROM "added" GROUP BY 1, 2
      ON CONFLICT ("project_id", "environment_id") DO UPDATE SET "proxies" = "environment_projects"."proxies" + EXCLUDED."proxies";
  ELSE
    UPDATE "environment_projects" ep SET "proxies" = ep."proxies" - "gone"."n"
      FROM (SELECT "project_id", "environment_id", count(*) AS "n" FROM "removed" GROUP BY 1, 2) "gone"
      WHERE ep."project_id" = "gone"."project_id" AND ep."environment_id" = "gone"."environment_id";
    DELETE FROM "environment_projects" ep
      WHERE ep."proxies" <= 0 AND (ep."project_id", ep."environment_id") IN (SELECT "project_id", "environment_id" FROM "removed");
  END IF;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "proxy_deployments_added" AFTER INSERT ON "proxy_deployments" REFERENCING NEW TABLE AS "added"
	FOR EACH STATEMENT EXECUTE FUNCTION "environment_projects_count"();--> statement-breakpoint
CREATE TRIGGER "proxy_deployments_removed" AFTER DELETE ON "proxy_deployments" REFERENCING OLD TABLE AS "removed"
	FOR EACH STATEMENT EXECUTE FUNCTION "environment_projects_count"();
