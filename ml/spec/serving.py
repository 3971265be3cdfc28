"""Whether the online decision service (`python -m ml serve`) decides the dataset's applications, and the bounds
of one request: the spec is untrusted, so each bound has a ceiling the service itself never exceeds."""

from __future__ import annotations

from pydantic import Field

from ml.spec.base import SpecModel

MAX_APPLICATIONS = 1000  # per request, the API's own ceiling
MAX_BODY_BYTES = 4 * 1024 * 1024  # a request body's ceiling (1,000 applications of a wide dataset fit)


class Serving(SpecModel):
    """`serving:` of a spec: served or not (`enabled`), the most applications one request may carry and the
    largest body accepted (bigger: 413)."""

    enabled: bool = False
    max_applications: int = Field(default=MAX_APPLICATIONS, ge=1, le=MAX_APPLICATIONS)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=MAX_BODY_BYTES)
