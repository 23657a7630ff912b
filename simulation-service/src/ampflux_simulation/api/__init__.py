"""HTTP routes: thin routers that parse, authorize, call the domain and shape the response."""
