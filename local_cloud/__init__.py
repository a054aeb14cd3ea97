"""The embedded local cloud (``make dev``): moto as AWS with every resource provisioned from
``infra.resources.SPEC``, the local API gateway, event-source pollers that behave like Lambda's, and
optional persistence of the whole state in a data dir. ``local_cloud.runtime.LocalCloud`` composes
them; ``python -m local_cloud`` runs it.
"""
