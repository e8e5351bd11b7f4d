from __future__ import annotations

import pytest

from dunning.compliance import Policy, load_policy

# The default identity the bundled templates are written for (settings.identity defaults).
CN_IDENTITY = {"institution": "阳光消费金融", "signatures": ["阳光消费金融"], "hotlines": ["95000"],
               "domains": ["sunshine-cfc.example.cn"]}
US_IDENTITY = {"institution": "Sunshine Finance", "signatures": ["Sunshine Finance"], "hotlines": ["800-555-0100"],
               "domains": ["sunshine.example.com"]}
CN_CONTEXT = {"institution": "阳光消费金融", "signature": "阳光消费金融", "hotline": "95000", "app": "阳光消费金融App",
              "domain": "sunshine-cfc.example.cn"}


@pytest.fixture(scope="session")
def cn() -> Policy:
    return load_policy("CN", CN_IDENTITY)


@pytest.fixture(scope="session")
def us() -> Policy:
    return load_policy("US", US_IDENTITY)
