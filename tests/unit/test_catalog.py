"""The instance catalog: facts from DescribeInstanceTypes, as frozen typed records."""

from __future__ import annotations

import dataclasses

import pytest

from hpc_constructs import ConfigError, catalog


def test_catalog_holds_every_type_of_the_dataset() -> None:
    assert len(catalog.instance_types()) == 1395


def test_catalog_records_its_source_and_date() -> None:
    assert "DescribeInstanceTypes" in catalog.source()
    assert "retrieved 20" in catalog.source()


def test_p5_48xlarge_has_32_efa_cards() -> None:
    p5 = catalog.instance_type("p5.48xlarge")
    assert p5.efa_supported
    assert p5.maximum_efa_interfaces == 32
    assert len(p5.network_cards) == 32
    assert all(card.supports_efa for card in p5.network_cards)
    assert p5.gpus == 8 and p5.gpu_name == "H100"
    assert p5.vcpus == 192 and p5.architecture == "x86_64"
    assert p5.network_bandwidth_gbps == 3200


def test_p6_b300_card_zero_is_ena_only() -> None:
    p6 = catalog.instance_type("p6-b300.48xlarge")
    assert len(p6.network_cards) == 17
    assert p6.network_cards[0].interface_types == ("interface",)
    assert not p6.network_cards[0].supports_efa
    assert len(p6.efa_capable_cards) == 16


@pytest.mark.parametrize(("name", "cards"), [("p4d.24xlarge", 4), ("p5en.48xlarge", 16), ("c5n.18xlarge", 1)])
def test_efa_card_counts(name: str, cards: int) -> None:
    assert len(catalog.instance_type(name).efa_capable_cards) == cards


def test_t3_micro_has_no_efa_and_no_cluster_strategy() -> None:
    t3 = catalog.instance_type("t3.micro")
    assert not t3.efa_supported
    assert t3.maximum_efa_interfaces == 0
    assert not t3.supports_cluster_placement
    assert t3.burstable


def test_i7ie_allows_fewer_efa_interfaces_than_efa_cards() -> None:
    i7ie = catalog.instance_type("i7ie.48xlarge")
    assert len(i7ie.efa_capable_cards) == 2
    assert i7ie.maximum_efa_interfaces == 1


def test_instance_store_facts() -> None:
    p5 = catalog.instance_type("p5.48xlarge")
    assert p5.instance_store_disks[0].count == 8
    assert p5.nvme_instance_store_gb == 30_400
    assert catalog.instance_type("c6in.32xlarge").instance_store_gb == 0


def test_legacy_types_without_ena_are_marked() -> None:
    assert catalog.instance_type("m4.large").ena_support == "unsupported"
    assert catalog.instance_type("c6in.32xlarge").ena_support == "required"


def test_graviton_architecture() -> None:
    assert catalog.instance_type("hpc7g.16xlarge").architecture == "arm64"


def test_records_are_frozen() -> None:
    record = catalog.instance_type("c5n.18xlarge")
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.vcpus = 1  # type: ignore[misc]


def test_unknown_type_suggests_close_matches() -> None:
    with pytest.raises(ConfigError) as err:
        catalog.instance_type("p5.48xlarg", path="Cluster/Gpu", prop="instance_types")
    message = str(err.value)
    assert "Cluster/Gpu" in message and "instance_types" in message and "'p5.48xlarg'" in message
    assert "p5.48xlarge" in message


def test_every_efa_type_has_a_consistent_record() -> None:
    efa_types = [t for t in catalog.instance_types() if t.efa_supported]
    assert len(efa_types) > 250
    for t in efa_types:
        assert t.maximum_efa_interfaces >= 1, t.name
        assert t.efa_capable_cards, t.name
        assert [c.index for c in t.network_cards] == list(range(len(t.network_cards))), t.name


@pytest.mark.parametrize(("name", "hypervisor", "nitro", "ebs_as_nvme"), [
    ("i3.16xlarge", "xen", False, False),  # ENA-capable, but EBS appears as /dev/xvd*
    ("m4.16xlarge", "xen", False, False),
    ("p5.48xlarge", "nitro", True, True),
    ("c7i.large", "nitro", True, True),
    ("i3en.metal", "", True, True),  # bare metal: no hypervisor, Nitro system, EBS over NVMe
])
def test_hypervisor_and_ebs_over_nvme(name: str, hypervisor: str, nitro: bool, ebs_as_nvme: bool) -> None:
    t = catalog.instance_type(name)
    assert (t.hypervisor, t.nitro, t.ebs_as_nvme) == (hypervisor, nitro, ebs_as_nvme)


@pytest.mark.parametrize(("name", "gpu"), [("p5.48xlarge", True), ("g6f.large", True), ("g5g.xlarge", True),
                                           ("c7i.large", False), ("trn2.48xlarge", False)])
def test_gpu_types_are_known(name: str, gpu: bool) -> None:
    assert catalog.instance_type(name).has_gpu is gpu


@pytest.mark.parametrize("families", [("c7i",), ("m7i", "r7i", "c7i"), ("p5", "hpc7a"), ("nosuchfamily",)])
def test_family_members_are_the_catalogs_types_of_those_families(families: tuple[str, ...]) -> None:
    expected = tuple(t for t in catalog.instance_types() if t.family in families)
    assert catalog.family_members(*families) == expected
    assert all(a is b for a, b in zip(catalog.family_members(*families), expected, strict=True))
