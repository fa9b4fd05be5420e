"""Helpers shared by every test directory; imported as `tests.support.<module>` (the repository root is on
sys.path through pytest's `pythonpath`, and tests/ is a package), never through a conftest.

- pg:         the PostgreSQL server the tests create databases on, and its client programs
- net:        free_port
- waits:      wait_until and the waits that replace fixed sleeps (a backend blocked on a lock, a worker's
              claim cycle)
- factories:  minimal rows (make_tenant, make_contact, ...)
- processing: building, launching and processing campaigns at chosen instants
- api:        the API in process (ASGI) or over real HTTP, tenants and their clients, problem assertions
- smtp:       a real aiosmtpd server with fault injection
- outbox:     outbox data as production builds it, and the worker in-process or as a process
"""
