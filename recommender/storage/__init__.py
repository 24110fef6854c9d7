"""The SQL store: schema, engine set-up and read helpers shared by ETL and models."""
