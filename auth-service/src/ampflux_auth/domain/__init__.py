"""Auth domain logic: no HTTP here. Functions take a session and never commit."""
