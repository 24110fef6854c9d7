"""The SQL store (application layer): schema, engine set-up and read helpers shared by ETL
and the services."""
