CREATE TABLE "mailbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"address" text NOT NULL,
	"message_id" text NOT NULL,
	"delivered_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"size" integer NOT NULL,
	"body" "bytea" NOT NULL,
	"seen" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
ALTER TABLE "messages" DROP CONSTRAINT "messages_listener_check";--> statement-breakpoint
ALTER TABLE "recipients" ADD COLUMN "last_status" text;--> statement-breakpoint
ALTER TABLE "recipients" ADD COLUMN "last_remote" text;--> statement-breakpoint
ALTER TABLE "recipients" ADD COLUMN "delay_notified_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "recipients" ADD COLUMN "final_at" timestamp (3) with time zone;--> statement-breakpoint
CREATE INDEX "mailbox_address_idx" ON "mailbox" USING btree ("address","delivered_at");--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_listener_check" CHECK ("messages"."listener" in ('mx', 'submission', 'submissions', 'local'));