"""The consent CRM: contacts, addresses, the registry of purposes and themes, the consent
ledger, blocks, communications, suppression of erased addresses, CSV imports, the audit log,
and the domain events each change publishes for connectors (ledger.events)."""
