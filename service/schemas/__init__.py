"""The msgspec Structs of the REST API, one module per resource: what a request may carry (Create,
Update and other requests) and what a response holds (Read, pages, results). The route handlers are in
service/api/; they import their Structs from here."""
