"""The arrays models train on, and how they are split: vocabularies, the Dataset, splits.

Pure: reading a Dataset from the database is `recommender.services.datasets`."""
