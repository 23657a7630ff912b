"""AmpFlux package."""
