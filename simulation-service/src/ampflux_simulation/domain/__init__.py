"""Study runs and results: the logic behind the routes and the worker, no HTTP."""
