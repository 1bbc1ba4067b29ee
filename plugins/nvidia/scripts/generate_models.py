"""Generate ``synaxis_nvidia/models.py`` from the models.dev fixture.

Run from the repository root::

    .venv/bin/python plugins/nvidia/scripts/generate_models.py \
        [FIXTURE]   # default tests/fixtures/modelsdev_api_subset.json
"""

import sys
from pathlib import Path

from synaxis_core.catalog.static_models import write_catalog

if __name__ == "__main__":
    fixture = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "modelsdev_api_subset.json"
    out = Path(__file__).resolve().parents[1] / "src" / "synaxis_nvidia" / "models.py"
    write_catalog(fixture, out, catalog_provider="nvidia", suffix="nvidia", constant="NVIDIA_MODELS", title="NVIDIA NIM",
                  embeddings=True)
