"""HTTP routers: parse, authorize, call the domain, shape the response."""
