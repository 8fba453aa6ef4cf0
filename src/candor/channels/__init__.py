"""Channels: templates, transports and inbound keywords for e-mail, SMS and WhatsApp."""
