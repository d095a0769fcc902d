"""Shared set-up of the contract modules.

The modules take their schema, target and seeded ids from the session that
`ges-contracts` makes current before it starts pytest (`contracts.session`).
Hypothesis settings (`--max-examples`, `--seed`) come from that schema's
configuration, so this file registers no Hypothesis profiles.
"""
