"""Cold-start items: content mapped into the CF factor space, and how much to trust CF per item."""
