"""``synaxis validate``: the end-to-end check of every active model (DESIGN.md section 5).

``checks`` holds the prompt and the pure checks of an answer; ``runner`` sends the prompt
through the gateway app, records the results and disables the models that failed.
"""

from synaxis_core.validation.checks import EXPECTED_KEYS, PROMPT, Answer, Verdict, judge
from synaxis_core.validation.runner import (
    TENANT,
    ModelResult,
    ProgressCallback,
    ValidationReport,
    select_models,
    validate,
)

__all__ = [
    "EXPECTED_KEYS",
    "PROMPT",
    "TENANT",
    "Answer",
    "ModelResult",
    "ProgressCallback",
    "ValidationReport",
    "Verdict",
    "judge",
    "select_models",
    "validate",
]
