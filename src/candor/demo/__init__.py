"""`candor demo`: a synthetic population, the gate's verdicts and a journey delivered to a local
mail sink. Not part of the product's operations; nothing else imports it but the CLI."""
