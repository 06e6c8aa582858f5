CREATE INDEX "leads_email_lower_idx" ON "leads" USING btree (lower("email"));--> statement-breakpoint
CREATE INDEX "leads_phone_idx" ON "leads" USING btree ("phone");--> statement-breakpoint
CREATE INDEX "messages_sms_to_idx" ON "messages" USING btree ("to_address","sent_at") WHERE channel = 'sms' AND status = 'sent';