"""The campaign report page: a server-rendered HTML summary of one campaign."""
