"""What the queue worker does beside predicting a batch's rows (batches.services runs those):
holders.py names the process that holds a lease so a dead one is recognised, profiles.py fills
the RDKit profiles a batch left pending, expiry.py deletes what batches leave behind."""
