CREATE TABLE "events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"message_id" text NOT NULL,
	"recipient_id" bigint,
	"at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"kind" text NOT NULL,
	"detail" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "messages" (
	"id" text PRIMARY KEY NOT NULL,
	"received_at" timestamp (3) with time zone NOT NULL,
	"sender" text NOT NULL,
	"size" integer NOT NULL,
	"body" "bytea" NOT NULL,
	"client_address" text NOT NULL,
	"client_port" integer NOT NULL,
	"helo" text NOT NULL,
	"protocol" text NOT NULL,
	"listener" text NOT NULL,
	"tls_protocol" text,
	"tls_cipher" text,
	"auth_user" text,
	"body_type" text,
	"smtputf8" boolean NOT NULL,
	"declared_size" integer,
	"dsn_ret" text,
	"dsn_envid" text,
	CONSTRAINT "messages_listener_check" CHECK ("messages"."listener" in ('mx', 'submission', 'submissions')),
	CONSTRAINT "messages_body_type_check" CHECK ("messages"."body_type" in ('7BIT', '8BITMIME')),
	CONSTRAINT "messages_dsn_ret_check" CHECK ("messages"."dsn_ret" in ('FULL', 'HDRS')),
	CONSTRAINT "messages_size_check" CHECK ("messages"."size" >= 0)
);
--> statement-breakpoint
CREATE TABLE "recipients" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"message_id" text NOT NULL,
	"address" text NOT NULL,
	"orcpt_type" text,
	"orcpt_address" text,
	"notify" text,
	"state" text DEFAULT 'queued' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"last_attempt_at" timestamp (3) with time zone,
	"last_reply" text,
	"lease_owner" text,
	"lease_until" timestamp (3) with time zone,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "recipients_state_check" CHECK ("recipients"."state" in ('queued', 'deferred', 'delivered', 'bounced', 'held')),
	CONSTRAINT "recipients_attempts_check" CHECK ("recipients"."attempts" >= 0)
);
--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_recipient_id_recipients_id_fk" FOREIGN KEY ("recipient_id") REFERENCES "public"."recipients"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "recipients" ADD CONSTRAINT "recipients_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "events_message_id_idx" ON "events" USING btree ("message_id","at");--> statement-breakpoint
CREATE INDEX "events_recipient_id_idx" ON "events" USING btree ("recipient_id") WHERE "events"."recipient_id" is not null;--> statement-breakpoint
CREATE INDEX "messages_received_at_idx" ON "messages" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "messages_sender_idx" ON "messages" USING btree ("sender");--> statement-breakpoint
CREATE INDEX "recipients_due_idx" ON "recipients" USING btree ("next_attempt_at") WHERE "recipients"."state" in ('queued', 'deferred');--> statement-breakpoint
CREATE INDEX "recipients_message_id_idx" ON "recipients" USING btree ("message_id");--> statement-breakpoint
CREATE INDEX "recipients_address_idx" ON "recipients" USING btree ("address");