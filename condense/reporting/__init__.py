"""Reporting: published numbers (``published``), paper-layout tables as data (``layouts``) and their
rendering (``tables``), and the figures (``figures``, one file per figure)."""
