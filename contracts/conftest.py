"""Shared set-up of the contract modules.

The modules take their schema, target and seeded ids from the session that
`ges-contracts` makes current before it starts pytest (`contracts.session`).
Hypothesis settings come from that schema's configuration (`--max-examples`,
`--seed`), not from profiles, so the command line alone decides the depth.
"""
