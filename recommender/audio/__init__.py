"""Audio content features: decode → frame features → song vector (+ bag-of-frames codebook).

Import the submodules directly; this package imports nothing heavy so the CLI stays fast.
"""
