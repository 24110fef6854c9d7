"""Closed-loop clients for the serving benchmark (`locust --headless -f bench/locustfile.py`).

Each client asks, with no think time, for RECSYS_BENCH_PATH with a user drawn from
RECSYS_BENCH_USERS (a file of ids); the run stops after RECSYS_BENCH_MAX_REQUESTS
requests or locust's --run-time, whichever comes first.
"""

from __future__ import annotations

import os
import random

from locust import FastHttpUser, constant, task

USERS = open(os.environ["RECSYS_BENCH_USERS"]).read().split()
PATH = os.environ.get("RECSYS_BENCH_PATH", "/users/{user}/recommendations")
MAX_REQUESTS = int(os.environ.get("RECSYS_BENCH_MAX_REQUESTS", "100000"))
_sent = 0


class Client(FastHttpUser):
    wait_time = constant(0)

    @task
    def ask(self) -> None:
        global _sent
        _sent += 1
        if _sent > MAX_REQUESTS:
            self.environment.runner.quit()
            return
        self.client.get(PATH.format(user=random.choice(USERS)), name=PATH)
