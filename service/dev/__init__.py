"""Development only: the embedded PostgreSQL cluster, the local SMTP catcher and the demo that
`./dev run` (`campaignctl run`) starts. Production code never needs these modules."""
