"""The sync runner: start-up upsert of installed models, catalog sync, discovery."""
