def main() -> None:  # replaced by the solver CLI
    raise SystemExit("ampflux-solve is being built")
