from . import town as _town  # noqa: F401  (registers the town catalogue with every workspace that opens)
