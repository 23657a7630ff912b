"""AmpFlux AI service."""
