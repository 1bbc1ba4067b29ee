"""The usage ledger: cost accounting and the batched writer."""
