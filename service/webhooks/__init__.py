"""Outgoing webhooks, the service's part: which targets may be called (targets.py), and the sender
that delivers the webhook_deliveries outbox, signed to the Standard Webhooks specification
(sender.py). Subscriptions, events, retries and auto-disable are SQL (db/functions/8*_webhook_*.sql)."""
