"""Read-only API actions for what `state.Store` keeps, so that the read-back and the orphan report see those
resources through the same service APIs (EC2, Direct Connect, FSx) that they would call on AWS."""

from __future__ import annotations

import json
from typing import Any

from moto.core.responses import ActionResult
from moto.directconnect.responses import DirectConnectResponse
from moto.ec2.responses import EC2Response
from moto.fsx.responses import FSxResponse

from scripts.emulator.state import store


def _describe_placement_groups(self: Any) -> ActionResult:
    names = self._get_param("GroupNames", [])
    groups = store(self.current_account, self.region).placement_groups
    found = [{k: v for k, v in g.items() if v is not None}
             for name, g in sorted(groups.items()) if not names or name in names]
    return ActionResult({"PlacementGroups": found})


def _describe_direct_connect_gateways(self: Any) -> str:
    params = json.loads(self.body or "{}")
    gateways = store(self.current_account, self.region).dx_gateways
    wanted = params.get("directConnectGatewayId")
    return json.dumps({"directConnectGateways": [g for gid, g in sorted(gateways.items())
                                                 if wanted in (None, gid)]})


def _describe_direct_connect_gateway_associations(self: Any) -> str:
    params = json.loads(self.body or "{}")
    associations = store(self.current_account, self.region).dx_associations
    wanted = params.get("directConnectGatewayId")
    return json.dumps({"directConnectGatewayAssociations": [
        a for _, a in sorted(associations.items()) if wanted in (None, a["directConnectGatewayId"])]})


def _describe_data_repository_associations(self: Any) -> str:
    params = json.loads(self.body or "{}")
    associations = store(self.current_account, self.region).data_repository_associations
    ids = params.get("AssociationIds")
    return json.dumps({"Associations": [a for aid, a in sorted(associations.items()) if not ids or aid in ids]})


def install() -> None:
    EC2Response.describe_placement_groups = _describe_placement_groups  # type: ignore[attr-defined]
    DirectConnectResponse.describe_direct_connect_gateways = (  # type: ignore[attr-defined]
        _describe_direct_connect_gateways)
    DirectConnectResponse.describe_direct_connect_gateway_associations = (  # type: ignore[attr-defined]
        _describe_direct_connect_gateway_associations)
    FSxResponse.describe_data_repository_associations = (  # type: ignore[attr-defined]
        _describe_data_repository_associations)
