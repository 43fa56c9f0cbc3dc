"""Training loops: Transformers (several seeds at once), SGD on the toy model, attention probes, and
the run record they write."""
