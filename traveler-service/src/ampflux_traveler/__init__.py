"""AmpFlux traveler service."""
