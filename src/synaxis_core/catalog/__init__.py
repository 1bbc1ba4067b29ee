"""Model-metadata catalogs: the catalog contract and model-id normalisation."""
