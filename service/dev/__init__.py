"""Development only: the embedded PostgreSQL cluster, the local SMTP catcher, the demo that
`./dev run` (`campaignctl run`) starts, and the helpers tests and benchmarks share. Production code
never needs these modules."""
