"""One module per CLI command; each function only builds a config and calls the library."""
