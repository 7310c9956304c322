"""One home for conformance: ``sora-mock verify``, the proxy, the recorder and replay.

Modules, each named for what it holds:

- ``providers``: provider names, contracts, keys, error shapes, loopback detection
- ``contract_map``: what the contracts' operations and links say (creates, status reads, ids)
- ``pointers``: JSON pointers and path templates
- ``redaction``: the one redaction every writer uses
- ``validation``: one exchange (request, answer, stream events) judged against the contract
- ``results`` / ``reports``: a verify run's findings, as Markdown and JUnit XML
- ``planning`` / ``verifier`` / ``verify_command``: ``sora-mock verify``
- ``proxy``: ``sora-mock proxy``, a validating pass-through in front of a provider
- ``cassettes`` / ``recorder``: a job's whole recorded life as one JSON file, and its writer
- ``replay``: recorded jobs served by the mock (``sora-mock serve --replay DIR``)
- ``evidence``: ``sora-mock cassettes report``, recorded traffic against the contracts'
  assumptions
"""
