"""The `candor` command: thin wrappers that open the product and call domain operations."""

from __future__ import annotations

import typer

from candor.cli import (
    apikeys,
    base,
    bounces_cmd,
    channels_cmd,
    config_cmd,
    contacts_cmd,
    forms_cmd,
    journey_cmd,
    ledger_cmd,
    rights_cmd,
    server,
    sync_cmd,
    users_cmd,
)

app = typer.Typer(
    help="Candor: privacy-by-design consent CRM and journey studio.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.callback()(base.root)
app.command("init")(base.init)
app.command("serve")(server.serve)
app.command("decide")(ledger_cmd.decide_cmd)
app.command("demo")(server.demo)
app.add_typer(config_cmd.app, name="config")
app.add_typer(apikeys.app, name="api-key")
app.add_typer(users_cmd.app, name="user")
app.add_typer(ledger_cmd.app, name="ledger")
app.add_typer(contacts_cmd.app, name="contacts")
rights_cmd.register(app)  # dsr, retention, ropa, contacts forget
app.command("mailsink")(channels_cmd.mailsink)
app.add_typer(channels_cmd.app, name="template")
journey_cmd.register(app)  # journey schema|validate|lint|simulate|launch|stop|status|run, worker
app.add_typer(sync_cmd.app, name="sync")
app.add_typer(forms_cmd.app, name="form")
app.add_typer(bounces_cmd.app, name="bounces")


def main() -> None:
    app()
