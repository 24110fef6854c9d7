"""Collaborative filtering on the users x items play matrix (implicit ALS, BPR, item-KNN).

Import models lazily through `recommender.cf.base.create_cf_model` / `load_cf_model`:
this package's import pulls in nothing heavy.
"""
