"""The one decision rule: decide() over a contact's facts and its SQL twin for whole groups,
the only two places that decide whether a person may be contacted."""
