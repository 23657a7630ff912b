"""Project-service logic: plain async functions over a session. No HTTP, never commit."""
