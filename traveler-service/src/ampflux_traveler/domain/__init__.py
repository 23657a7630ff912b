"""The traveler service's logic and queries: no HTTP, never commits (the request's or the
message handler's unit of work does)."""
