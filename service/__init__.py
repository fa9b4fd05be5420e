"""The campaign engine's thin service: REST API, outbox worker and the campaignctl CLI."""
