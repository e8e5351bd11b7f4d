"""SMS channels: the extension point. Import :mod:`dunning.channels.registry` to build one from settings."""
