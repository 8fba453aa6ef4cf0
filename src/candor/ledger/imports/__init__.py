"""CSV intake of contacts: plan (header and rows, no database), seal (encrypt a candidate under
a new key), writes (a batch in bulk), consents and chain (the batch's consent events and their
hash chains), and importer, which runs them batch by batch."""
