"""The reference environment's images: built with EC2 Image Builder, so that no node downloads software at boot."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Stack
from constructs import Construct

from hpc_constructs import HpcImage, HpcNetwork
from stacks.config import ImageConfig


class ImageStack(Stack):
    """One HpcImage per entry of the config's `images` section (name -> HpcImage props), built in the network's
    first private subnet. Fleets, Batch environments, the bastion and Slurm node groups name them.

    Its images build in parallel while it deploys (each takes as long as its build: see the README); the stacks
    that use an image deploy after it. Attribute: images (name -> HpcImage).
    """

    def __init__(self, scope: Construct, id: str, *, network: HpcNetwork, images: Mapping[str, ImageConfig],
                 **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.images: dict[str, HpcImage] = {
            name: HpcImage(self, _construct_id(name), vpc=network.vpc, **config.props())
            for name, config in images.items()}


def _construct_id(name: str) -> str:
    """slurm-gpu -> SlurmGpu: the construct id (and so the logical IDs and Image Builder names) of an image."""
    return "".join(part[:1].upper() + part[1:] for part in name.replace("_", "-").split("-") if part) or name
