"""Apache Spark as a second engine (application layer): ALS training and batch top-N (the
audio feature job, which runs the ETL scan's code, is `etl.spark_audio`).

Optional (`pip install 'recsys[spark]'`, plus Java 17+). Nothing outside this package
imports pyspark, and nothing here imports it at module level, so the one-machine
`recsys` never pays for Spark.

Local mode (`local[*]`) needs nothing but Java. On a cluster, pass
`--spark-master spark://host:7077` (or `yarn`, `k8s://...`), or run the same
command under spark-submit, which owns the session's settings. Executors need
recsys installed (same version), RECSYS_SPARK_STAGING on storage they all read,
and, for audio, the catalogue's paths readable at the same locations.
"""
