"""What the emulator keeps beside moto's own backends: resources moto has no model for."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Store:
    """One account and region: placement groups, Direct Connect gateways and associations, FSx DRAs, AWS Parallel
    Computing Service clusters, compute node groups and queues (moto has no PCS at all), and EC2 Image Builder
    components, recipes, infrastructure configurations and images (nor Image Builder). PCS records are
    kept in the PCS API's own shape (camelCase members), keyed by ID, so that the API actions return them as is."""

    placement_groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    dx_gateways: dict[str, dict[str, Any]] = field(default_factory=dict)
    dx_associations: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_repository_associations: dict[str, dict[str, Any]] = field(default_factory=dict)
    route_propagations: dict[str, dict[str, Any]] = field(default_factory=dict)
    pcs_clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    pcs_node_groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    pcs_queues: dict[str, dict[str, Any]] = field(default_factory=dict)
    # EC2 Image Builder (moto has none): by ARN, in the Image Builder API's shape
    imagebuilder_components: dict[str, dict[str, Any]] = field(default_factory=dict)
    imagebuilder_recipes: dict[str, dict[str, Any]] = field(default_factory=dict)
    imagebuilder_infrastructure: dict[str, dict[str, Any]] = field(default_factory=dict)
    imagebuilder_images: dict[str, dict[str, Any]] = field(default_factory=dict)


_STORES: dict[tuple[str, str], Store] = defaultdict(Store)


def store(account_id: str, region_name: str) -> Store:
    return _STORES[(account_id, region_name)]


def reset() -> None:
    _STORES.clear()
