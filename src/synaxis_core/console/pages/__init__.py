"""The console's pages, one module each (their route handlers)."""
