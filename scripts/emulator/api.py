"""Read-only API actions for what `state.Store` keeps, so that the read-back and the orphan report see those
resources through the same service APIs (EC2, Direct Connect, FSx, PCS, Image Builder) that they would call on AWS.

PCS is a service moto does not know at all, so besides its actions it needs a route: moto's two dispatchers (the
botocore stubber behind `mock_aws`, and the server's `DomainDispatcherApplication`) both find a service by matching
`https://pcs.REGION.amazonaws.com` against `moto.backend_index.backend_url_patterns` (the server first turns the
SigV4 credential scope, `.../REGION/pcs/aws4_request`, into that host), then ask `moto.backends.get_backend(name)`
for the handlers of its URLs. `install()` adds the pattern and answers `get_backend("pcs")`; nothing else changes.
EC2 Image Builder is a REST-JSON service moto does not know either: the same route, by URL path (/ListImages ...).
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

import moto.backend_index
import moto.backends
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, BaseResponse
from moto.directconnect.responses import DirectConnectResponse
from moto.ec2.responses import EC2Response
from moto.fsx.responses import FSxResponse

from scripts.emulator.handlers import ImageBuilderNotFoundError, PcsNotFoundError, pcs_cluster
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


class PcsResourceNotFound(ServiceException):
    code = "ResourceNotFoundException"


_SUMMARY = ("name", "id", "arn", "clusterId", "createdAt", "modifiedAt", "status")


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    return {key: record[key] for key in _SUMMARY if key in record}


class PcsResponse(BaseResponse):
    """The read-only half of the PCS API: JSON 1.0, X-Amz-Target `AWSParallelComputingService.<Action>`; moto parses
    the parameters and serializes the results from botocore's PCS model. No pagination: one page holds all."""

    def __init__(self) -> None:
        super().__init__(service_name="pcs")
        self.automated_parameter_parsing = True

    def _cluster(self) -> dict[str, Any]:
        try:
            return pcs_cluster(self.current_account, self.region, self._get_param("clusterIdentifier"))
        except PcsNotFoundError as error:
            raise PcsResourceNotFound(str(error)) from error

    def _member(self, kind: str, records: dict[str, dict[str, Any]], parameter: str) -> dict[str, Any]:
        """A node group or queue of the cluster, by ID or name (as PCS takes either)."""
        cluster, identifier = self._cluster(), self._get_param(parameter)
        for record in records.values():
            if record["clusterId"] == cluster["id"] and identifier in (record["id"], record["name"]):
                return record
        raise PcsResourceNotFound(f"PCS {kind} {identifier} does not exist in cluster {cluster['id']}")

    def list_clusters(self) -> ActionResult:
        clusters = store(self.current_account, self.region).pcs_clusters
        return ActionResult({"clusters": [_summary(c) for c in clusters.values()]})

    def get_cluster(self) -> ActionResult:
        return ActionResult({"cluster": self._cluster()})

    def list_compute_node_groups(self) -> ActionResult:
        cluster_id = self._cluster()["id"]
        groups = store(self.current_account, self.region).pcs_node_groups
        return ActionResult({"computeNodeGroups": [_summary(g) for g in groups.values()
                                                   if g["clusterId"] == cluster_id]})

    def get_compute_node_group(self) -> ActionResult:
        groups = store(self.current_account, self.region).pcs_node_groups
        return ActionResult({"computeNodeGroup": self._member("compute node group", groups,
                                                              "computeNodeGroupIdentifier")})

    def list_queues(self) -> ActionResult:
        cluster_id = self._cluster()["id"]
        queues = store(self.current_account, self.region).pcs_queues
        return ActionResult({"queues": [_summary(q) for q in queues.values() if q["clusterId"] == cluster_id]})

    def get_queue(self) -> ActionResult:
        queues = store(self.current_account, self.region).pcs_queues
        return ActionResult({"queue": self._member("queue", queues, "queueIdentifier")})


class ImageBuilderResourceNotFound(ServiceException):
    code = "ResourceNotFoundException"


class ImageBuilderResponse(BaseResponse):
    """The read-only half of the Image Builder API (REST-JSON: GET /ListComponents ...), parsed and serialized from
    botocore's model by moto. Filters are not applied; one page holds all."""

    def __init__(self) -> None:
        super().__init__(service_name="imagebuilder")
        self.automated_parameter_parsing = True

    def _store(self) -> Any:
        return store(self.current_account, self.region)

    def list_components(self) -> ActionResult:
        keys = ("arn", "name", "version", "platform", "type", "owner", "description", "dateCreated")
        return ActionResult({"componentVersionList": [{k: c[k] for k in keys}
                                                      for c in self._store().imagebuilder_components.values()]})

    def list_image_recipes(self) -> ActionResult:
        keys = ("arn", "name", "platform", "owner", "parentImage", "dateCreated")
        return ActionResult({"imageRecipeSummaryList": [{k: r[k] for k in keys}
                                                        for r in self._store().imagebuilder_recipes.values()]})

    def list_infrastructure_configurations(self) -> ActionResult:
        keys = ("arn", "name", "description", "dateCreated", "instanceTypes", "instanceProfileName")
        records = self._store().imagebuilder_infrastructure.values()
        return ActionResult({"infrastructureConfigurationSummaryList": [{k: r[k] for k in keys} for r in records]})

    def list_images(self) -> ActionResult:
        keys = ("arn", "name", "type", "version", "platform", "owner", "dateCreated", "buildType")
        return ActionResult({"imageVersionList": [{k: i[k] for k in keys}
                                                  for i in self._store().imagebuilder_images.values()]})

    def get_image(self) -> ActionResult:
        arn = self._get_param("imageBuildVersionArn")
        images = self._store().imagebuilder_images
        if arn not in images:
            raise ImageBuilderResourceNotFound(str(ImageBuilderNotFoundError(f"Image Builder image {arn}")))
        return ActionResult({"image": images[arn]})


_PCS_URL = r"https?://pcs\.(.+)\.amazonaws\.com"
_IMAGEBUILDER_URL = r"https?://imagebuilder\.(.+)\.amazonaws\.com"


class _PcsRoutes:
    """What moto's dispatchers use of a service's backend: `urls` (the stubber matches the request's URL) and
    `flask_paths` (the server's routes). The records themselves live in `state.Store`."""

    urls: ClassVar[dict[str, Any]] = {_PCS_URL + "/$": PcsResponse.dispatch}
    flask_paths: ClassVar[dict[str, Any]] = {"/": PcsResponse.dispatch}


class _ImageBuilderRoutes:
    urls: ClassVar[dict[str, Any]] = {_IMAGEBUILDER_URL + "/.*$": ImageBuilderResponse.dispatch}
    flask_paths: ClassVar[dict[str, Any]] = {"/<path:route>": ImageBuilderResponse.dispatch}


_ROUTES: dict[str, tuple[str, Any]] = {"pcs": (_PCS_URL, _PcsRoutes), "imagebuilder": (_IMAGEBUILDER_URL,
                                                                                          _ImageBuilderRoutes)}
_ORIGINAL_GET_BACKEND = moto.backends.get_backend


def _get_backend(name: str) -> Any:
    """Not a `BackendDict`, so both dispatchers take the handlers from its "global" entry."""
    if name in _ROUTES:
        return {"global": _ROUTES[name][1]()}
    return _ORIGINAL_GET_BACKEND(name)  # type: ignore[call-overload]


def _route_pcs() -> None:
    for name, (url, _) in _ROUTES.items():
        if not any(service == name for service, _ in moto.backend_index.backend_url_patterns):
            moto.backend_index.backend_url_patterns.append((name, re.compile(url)))
    moto.backends.get_backend = _get_backend


def install() -> None:
    _route_pcs()
    EC2Response.describe_placement_groups = _describe_placement_groups  # type: ignore[attr-defined]
    DirectConnectResponse.describe_direct_connect_gateways = (  # type: ignore[attr-defined]
        _describe_direct_connect_gateways)
    DirectConnectResponse.describe_direct_connect_gateway_associations = (  # type: ignore[attr-defined]
        _describe_direct_connect_gateway_associations)
    FSxResponse.describe_data_repository_associations = (  # type: ignore[attr-defined]
        _describe_data_repository_associations)
