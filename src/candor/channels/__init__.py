"""Channels: message templates, composing and sending e-mail, SMS and WhatsApp from the outbox
(with the gate checked again at dispatch), tracked links and inbound keywords."""
