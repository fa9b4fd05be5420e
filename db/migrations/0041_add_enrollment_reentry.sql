-- Enrolling contacts one by one into a running campaign, and entering it again after an exit.
-- depends: 0040_add_webhooks

-- once: a contact enters a campaign at most once (the default, as before); after_exit: again once
-- its previous enrollment has ended (completed or exited), never twice at the same time.
ALTER TABLE campaigns.campaigns
    ADD COLUMN reentry text NOT NULL DEFAULT 'once',
    ADD CONSTRAINT ck_campaigns_reentry CHECK (reentry IN ('once', 'after_exit'));

-- The n-th time the contact entered the campaign. Enrollment paths that do not re-enter (launch,
-- audience refresh, moves) insert entry 1, so uq_campaign_contacts_contact still makes them
-- idempotent; a re-entry inserts the next number, after the previous enrollment ended, and two
-- concurrent re-entries collide on the same number.
ALTER TABLE campaigns.campaign_contacts
    ADD COLUMN entry smallint NOT NULL DEFAULT 1,
    ADD CONSTRAINT ck_campaign_contacts_entry CHECK (entry >= 1);
ALTER TABLE campaigns.campaign_contacts DROP CONSTRAINT uq_campaign_contacts_contact;
ALTER TABLE campaigns.campaign_contacts
    ADD CONSTRAINT uq_campaign_contacts_contact UNIQUE (tenant_id, campaign_id, contact_id, entry);
