CREATE TABLE "dkim_keys" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"domain" text NOT NULL,
	"selector" text NOT NULL,
	"algorithm" text NOT NULL,
	"private_key" text NOT NULL,
	"public_key" text NOT NULL,
	"active" boolean DEFAULT false NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"retired_at" timestamp (3) with time zone,
	CONSTRAINT "dkim_keys_algorithm_check" CHECK ("dkim_keys"."algorithm" in ('rsa-sha256', 'ed25519-sha256'))
);
--> statement-breakpoint
CREATE TABLE "greylist" (
	"key" text PRIMARY KEY NOT NULL,
	"first_seen" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"last_seen" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"passed_at" timestamp (3) with time zone,
	"attempts" integer DEFAULT 1 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"password_hash" text NOT NULL,
	"addresses" text[] DEFAULT '{}'::text[] NOT NULL,
	"domains" text[] DEFAULT '{}'::text[] NOT NULL,
	"send_as_any" boolean DEFAULT false NOT NULL,
	"disabled" boolean DEFAULT false NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_name_unique" UNIQUE("name")
);
--> statement-breakpoint
ALTER TABLE "recipients" ADD COLUMN "hold_reason" text;--> statement-breakpoint
CREATE UNIQUE INDEX "dkim_keys_domain_selector_idx" ON "dkim_keys" USING btree ("domain","selector");--> statement-breakpoint
CREATE INDEX "greylist_last_seen_idx" ON "greylist" USING btree ("last_seen");