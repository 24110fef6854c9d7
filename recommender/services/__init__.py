"""The application layer: everything that touches the database or the file system for a
user (load a dataset, train and publish bundles, taggers, histories and fold-in,
evaluation runs, batch jobs). It owns the input checks; interfaces only call it."""
