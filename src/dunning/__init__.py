"""dunning — compliance-first debt-collection reminder SMS (催收短信) platform."""

from __future__ import annotations

__version__ = "0.1.0"
