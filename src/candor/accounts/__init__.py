"""Who may call Candor: API keys with roles (admin, marketer, dpo, auditor), stored as hashes."""
