"""Protocol peers the channel adapters are tested against (SMPP SMSC, Kannel, provider HTTP APIs)."""
