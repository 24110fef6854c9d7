"""`recsys serve`: the HTTP interface, a thin layer over `recommender.services`.

app.py builds the FastAPI application and its routes; state.py holds what a worker
serves (live bundles, the database, changed users); errors.py gives every failure one
JSON shape; metrics.py the Prometheus series; limits.py body sizes; auth.py the API key of writes;
run.py starts uvicorn with the safety checks.
"""
