"""The consent CRM's data: contacts, identity vault, addresses, purposes, consents, blocks."""
