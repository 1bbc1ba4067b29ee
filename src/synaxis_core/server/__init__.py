"""The Litestar gateway server."""
