"""A stored prediction as files: CSV/JSON/SDF/ZIP exports, the PDF report, the RDKit profile\nfiles, and the cache that answers a repeated download with 304."""
