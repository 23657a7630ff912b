"""The AI service's logic: no HTTP here, and nothing in here commits a request's session."""
