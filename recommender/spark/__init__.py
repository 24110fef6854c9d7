"""Apache Spark as a second engine: ALS training, batch top-N and audio features.

Optional (`pip install 'recsys[spark]'`, plus Java 17+). Nothing outside this package
imports pyspark, and nothing here imports it at module level, so the one-machine
`recsys` never pays for Spark.
"""
