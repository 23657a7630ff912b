"""AmpFlux common library: the infrastructure every service shares, once."""
