"""Entry points: CLI, REST API, web console, workers. Each parses, calls one service, formats."""
