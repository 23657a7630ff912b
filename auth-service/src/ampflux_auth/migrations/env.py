from ampflux_auth.models import Base
from ampflux_shared.migrations import run_env

run_env(Base.metadata)
