"""The machinery every component shares: one top-k, one config type, one contract,
one registry and one bundle format. Pure: no SQL, no CLI, no Spark, no paths outside
a bundle folder."""
