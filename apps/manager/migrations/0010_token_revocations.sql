CREATE TABLE "oauth_token_revocations" (
	"subject" text PRIMARY KEY NOT NULL,
	"revoked_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
-- Revocations recorded on the copies so far become revocation facts before the column goes.
INSERT INTO "oauth_token_revocations" ("subject", "revoked_at") SELECT 'token:' || "token_hash", "revoked_at" FROM "oauth_tokens" WHERE "revoked_at" IS NOT NULL;
--> statement-breakpoint
ALTER TABLE "oauth_tokens" DROP COLUMN "revoked_at";