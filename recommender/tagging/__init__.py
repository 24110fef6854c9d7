"""Automatic tagging: taggers behind one interface, crowd/curated labels, training and evaluation.

Import the submodules directly; nothing heavy is imported here.
"""
