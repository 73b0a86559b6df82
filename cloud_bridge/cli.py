"""``lisa bridge …``: the cloud bridge's command group (entry point ``lisa.commands``)."""

from __future__ import annotations

import typer

from cloud_bridge.config_cli import check_config, config_reference
from cloud_bridge.report_cli import report
from cloud_bridge.service_cli import run, status
from cloud_bridge.users_cli import user_app

app = typer.Typer(
    help="The cloud bridge: call distribution, agents' API, call log and reports.",
    no_args_is_help=True,
)
app.command("run")(run)
app.command("status")(status)
app.command("check-config")(check_config)
app.command("config-reference")(config_reference)
app.command("report")(report)
app.add_typer(user_app, name="user")
