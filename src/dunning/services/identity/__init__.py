"""Identity: authentication (passwords, tokens, sessions) and users with their roles."""
