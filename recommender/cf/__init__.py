"""Collaborative filtering on the users x items play matrix (implicit ALS, BPR, item-KNN, RP3beta).

Build models by name through `recommender.core.registry.create("als", ...)`; this
package's import pulls in nothing heavy.
"""
