"""Errors that carry a message meant for the user, shown without a traceback by the CLI."""


class RiskopsError(Exception):
    """A problem the user can fix (bad input, missing data, bad configuration)."""


class SpecError(RiskopsError):
    """A dataset spec file is missing or invalid."""


class RawFileError(RiskopsError):
    """A raw input file cannot be read at all; nothing is written for its date."""


class MissingDataError(RiskopsError):
    """The input a step needs does not exist (yet)."""


class QualityGateError(RiskopsError):
    """A preprocessed day failed the spec's data-quality gates; its quarantine and manifest are written."""
