"""Data: where datasets come from (``sources``), the stored ``data.pt`` format (``store``), labelled image
sets and evaluations as typed records (``records``), DSA augmentation (``augment``), test fixtures and derived datasets (``derived``)."""
