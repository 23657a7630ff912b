"""AmpFlux API gateway: the single public entry in front of every service."""
