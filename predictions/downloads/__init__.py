"""A stored prediction as files: CSV/JSON/ZIP exports (exports.py), its pictures and report
card (report.py), and the ETags and render cache that answer a repeat download (cache.py)."""
