"""From the database to the arrays models train on: vocabularies and the Dataset."""
