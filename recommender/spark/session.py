"""One SparkSession for a recsys process: local[*] by default, or a cluster via --spark-master.

Spark is optional: a missing pyspark or Java is an InputError telling the user
what to install, never an ImportError traceback. Arrow is switched on so data
crosses the Python/JVM boundary columnar (PySpark 4's pandas conversion is not
used anywhere: pandas 3 is not fully supported by PySpark 4.x).
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from typing import Any

from recommender.errors import InputError

DEFAULT_MASTER = "local[*]"
INSTALL_HINT = "install the Spark extra (`pip install 'recsys[spark]'`) and Java 17+"


def spark_available() -> str | None:
    """None when Spark can run here, else the reason it cannot (for skips and errors)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed"
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        return "no Java runtime (java not on PATH and JAVA_HOME unset)"
    return None


def spark_session(
    *,
    master: str | None = None,
    app_name: str = "recsys",
    shuffle_partitions: int | None = None,
    driver_memory: str | None = None,
    extra_conf: dict[str, Any] | None = None,
) -> Any:
    """The active SparkSession, or a new one on `master` (default RECSYS_SPARK_MASTER or local[*]).

    Local mode keeps shuffle partitions small (Spark's default 200 makes a small job
    pay for 200 tiny tasks) and the UI off. On a cluster, settings passed by
    spark-submit win: getOrCreate keeps an existing session and its config.
    """
    reason = spark_available()
    if reason:
        raise InputError(f"the Spark engine needs pyspark and Java: {reason}; {INSTALL_HINT}")
    # pyspark warns (on importing some of its modules) that pandas 3 is not fully supported;
    # recsys never converts to or from pandas on Spark (Parquet and Arrow only, and the tests
    # make DataFrame.toPandas raise), so this one message is noise here
    warnings.filterwarnings(
        "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
    )
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    master = master or os.environ.get("RECSYS_SPARK_MASTER") or DEFAULT_MASTER
    local = master.startswith("local")
    cores = os.cpu_count() or 2
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .config(
            "spark.sql.shuffle.partitions", str(shuffle_partitions or (2 * cores if local else 200))
        )
        .config(
            "spark.driver.memory",
            driver_memory or os.environ.get("RECSYS_SPARK_DRIVER_MEMORY", "2g"),
        )
    )
    if local:  # Python workers must be this interpreter (its venv has recsys and pyarrow)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = (
            builder.config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
        )
    for key, value in (extra_conf or {}).items():
        builder = builder.config(key, str(value))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(os.environ.get("RECSYS_SPARK_LOG_LEVEL", "ERROR"))
    return session


def ensure_checkpoint_dir(session: Any) -> None:
    """Give Spark a checkpoint directory unless one is set (on a cluster, set a shared one).

    ALS's lineage grows with every iteration; without checkpoints a 15-iteration fit
    overflows the JVM stack while serialising tasks. The temp directory is removed
    when this process exits.
    """
    context = session.sparkContext
    if context.getCheckpointDir() is None:
        import atexit
        import tempfile

        path = tempfile.mkdtemp(prefix="recsys-spark-checkpoints-")
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        context.setCheckpointDir(path)
