"""One module per CLI sub-command: `configure(parser)` adds its options, `run(args)` does the work."""
