"""Data subject rights: requests with deadlines, access copy, erasure with retention, restriction,
objection, automated decisions and the record of processing (see rights.data_map for the map
of every place personal data lives)."""
