"""Sign-up forms: the hosted page's model, the submission taken at the door (intake) and the
worker's processing of it into pending consents and a double opt-in message (process)."""
