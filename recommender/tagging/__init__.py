"""Automatic tagging: taggers behind the one component contract, the tagger pipeline bundle
(features, codebook, tagger) and tagging metrics. Training from the database is
`recommender.services.taggers`. Import the submodules directly; nothing heavy is imported here.
"""
