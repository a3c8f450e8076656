"""The versioned JSON API (/api/v1/): thin DRF views over the same services and selectors."""
