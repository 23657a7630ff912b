"""AmpFlux project service."""
