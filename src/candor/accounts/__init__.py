"""Who may act in Candor: team members (argon2 passwords, server-side sessions) and API keys
for machines, both with roles (admin, marketer, dpo, auditor)."""
