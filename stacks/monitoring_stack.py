"""The reference environment's observability: one dashboard and the alarms of every construct the config builds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from hpc_constructs import HpcDashboard, Monitored
from stacks.config import MonitoringConfig


class MonitoringStack(Stack):
    """One HpcDashboard over `parts` (the other stacks' constructs, in the order the app builds them).

    It deploys last: its alarms, rules and graphs read the other stacks' resource names (weak references through
    their outputs), and nothing reads from it, so that a watched stack deploys and updates without it.
    """

    def __init__(self, scope: Construct, id: str, *, parts: Sequence[Monitored], monitoring: MonitoringConfig,
                 **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.dashboard = HpcDashboard(self, "Dashboard", parts=parts, **monitoring.props())
        CfnOutput(self, "AlarmTopicArn", value=self.dashboard.topic.topic_arn,
                  description="Subscribe an address or a chat endpoint: aws sns subscribe --topic-arn <this> ...")
        CfnOutput(self, "DashboardName", value=self.dashboard.dashboard.dashboard_name,
                  description="CloudWatch console > Dashboards > <this>")
