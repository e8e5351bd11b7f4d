"""Pure values and rules: no I/O, imports nothing else of dunning."""
