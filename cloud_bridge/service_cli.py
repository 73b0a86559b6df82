"""``lisa bridge run`` and ``lisa bridge status``.

``run`` starts the bridge: restores the stored state, connects to the broker (one connection),
serves the agents' HTTP/WebSocket API and writes ``bridge.pid`` beside the database. SIGTERM or
Ctrl-C stop it cleanly (the bridge says ``offline``); after a SIGKILL a restart continues where
it stopped.

``status`` reads the database the running bridge writes (WAL: readers never block the bridge),
so it works on the bridge host without credentials and also when the bridge is down (then it
says so and shows the last stored state).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cloud_bridge.config import BridgeConfig, BridgeConfigError, load_bridge_config

log = logging.getLogger("lisa.bridge")
err = Console(stderr=True)

DEMO_PASSWORD = "demo"
#: accounts created by ``--demo`` (name, role): the five people a newcomer can log in as, and
#: the accounts of the demo's simulated agents
DEMO_ACCOUNTS = (
    ("clearing1", "agent"),
    ("sozial1", "agent"),
    ("wohngeld1", "agent"),
    ("super1", "supervisor"),
    ("tech1", "technician"),
    ("clearing2", "agent"),
    ("sozial2", "agent"),
    ("pflege1", "agent"),
    ("aok1", "agent"),
)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Bridge config (TOML)")]


def _load(config: Path) -> BridgeConfig:
    try:
        return load_bridge_config(config)
    except BridgeConfigError as exc:
        err.print(f"[red]config error:[/] {exc}")
        raise typer.Exit(2) from None


def pid_file(cfg: BridgeConfig) -> Path:
    return cfg.bridge.database.with_name("bridge.pid")


def run(
    config: ConfigOpt,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Demo mode: create the demo accounts (password 'demo') and ignore opening hours",
        ),
    ] = False,
    broker: Annotated[
        str | None, typer.Option("--broker", help="Override [mqtt] url, e.g. mqtt://127.0.0.1:1883")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Override [http] port")] = None,
    log_level: Annotated[str, typer.Option("--log-level")] = "info",
) -> None:
    """Run the cloud bridge (ACD, MQTT, agents' API) until SIGTERM / Ctrl-C."""
    cfg = _load(config)
    if broker is not None:
        cfg.mqtt.url = broker
    if port is not None:
        cfg.http.port = port
    _setup_logging(log_level)
    other = _running(cfg)
    if other is not None and other.get("pid") != os.getpid():
        err.print(
            f"[red]lisa bridge:[/] a bridge is already running on {cfg.bridge.database} "
            f"(pid {other.get('pid')}); stop it first"
        )
        raise typer.Exit(1)
    try:
        asyncio.run(run_bridge(cfg, demo=demo))
    except BridgeConfigError as exc:
        err.print(f"[red]config error:[/] {exc}")
        raise typer.Exit(2) from None
    except OSError as exc:
        err.print(f"[red]lisa bridge:[/] {exc}")
        raise typer.Exit(1) from None


def _setup_logging(level: str) -> None:
    class JsonFormatter(logging.Formatter):
        skip = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

        def format(self, record: logging.LogRecord) -> str:
            data: dict[str, Any] = {
                "ts": round(record.created, 3),
                "level": record.levelname.lower(),
                "logger": record.name,
                "msg": record.getMessage(),
            }
            data.update({k: v for k, v in record.__dict__.items() if k not in self.skip})
            if record.exc_info:
                data["exc"] = self.formatException(record.exc_info)
            return json.dumps(data, default=str)

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def create_demo_accounts(users: Any) -> None:
    for name, role in DEMO_ACCOUNTS:
        if users.get(name) is None:
            users.add(name, role, DEMO_PASSWORD, allow_weak=True)


async def run_bridge(cfg: BridgeConfig, *, demo: bool = False) -> None:
    import uvicorn

    from cloud_bridge.api import create_app
    from cloud_bridge.mqtt_bridge import BridgeMqtt
    from cloud_bridge.report_cli import report_names
    from cloud_bridge.service import Bridge
    from cloud_bridge.store import SQLiteStore
    from cloud_bridge.turn import ice_servers_for
    from cloud_bridge.users import UserStore

    db = cfg.bridge.database
    store = SQLiteStore(db)
    users = UserStore(db)
    if demo:
        create_demo_accounts(users)
    mqtt = BridgeMqtt(
        cfg.mqtt.url,
        client_id=cfg.mqtt.client_id,
        username=cfg.mqtt.username or None,
        password=cfg.mqtt_password(),
        tls_ca=str(cfg.mqtt.tls_ca) if cfg.mqtt.tls_ca else None,
        on_message=lambda t, p: None,
    )
    bridge = Bridge(
        cfg.queue_specs(always_open=demo),
        cfg.agent_specs(),
        store,
        booths={b.id: cfg.booth_queue(b.id) for b in cfg.booths},
        booth_names={b.id: b.name for b in cfg.booths if b.name},
        default_queue=cfg.bridge.default_queue,
        mqtt=mqtt,
        agent_grace_s=cfg.bridge.agent_grace_s,
        booth_offline_grace_s=cfg.bridge.booth_offline_grace_s,
        ice_for=lambda peer: [
            dict(s) for s in ice_servers_for(cfg.media.ice_servers, peer, time.time())
        ],
    )
    await bridge.start()
    app = create_app(
        bridge,
        users,
        token_ttl_s=cfg.http.token_ttl_s,
        title=cfg.bridge.name,
        timezone=cfg.bridge.timezone,
        sl_threshold_s=cfg.kpi.sl_threshold_s,
        report_names=report_names(cfg),
        trusted_proxies=cfg.http.trusted_proxies,
        templates_dir=cfg.signing.templates_dir,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=cfg.http.host,
            port=cfg.http.port,
            log_config=None,
            access_log=False,
            lifespan="off",
            # the client address is the socket's peer; X-Forwarded-For only from
            # [http] trusted_proxies, which the app checks itself
            proxy_headers=False,
            ws_ping_interval=20,
        )
    )
    loop = asyncio.get_running_loop()

    def _stop() -> None:
        server.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _stop)
    pid = pid_file(cfg)
    pid.write_text(json.dumps({"pid": os.getpid(), "started": time.time(), "demo": demo}))
    try:
        await server.serve()
    finally:
        await bridge.stop()
        users.close()
        pid.unlink(missing_ok=True)
    log.info("bridge stopped")


# ============================================================================ status
def _running(cfg: BridgeConfig) -> dict[str, Any] | None:
    path = pid_file(cfg)
    try:
        info: dict[str, Any] = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info


def collect_status(cfg: BridgeConfig) -> dict[str, Any]:
    """The bridge's state as the running bridge last stored it, in the engine's own views."""
    from cloud_bridge.acd.engine import Engine
    from cloud_bridge.service import SystemClock
    from cloud_bridge.store import SQLiteStore

    db = cfg.bridge.database
    if not db.exists():
        raise FileNotFoundError(f"no bridge database at {db} (has the bridge ever run?)")
    store = SQLiteStore(db)
    try:
        calls, agents, queue_rows = store.load_state()
        booths = store.booths()
        unknown = store.unknown_booths()
    finally:
        store.close()
    running = _running(cfg)
    engine = Engine(
        cfg.queue_specs(always_open=bool(running and running.get("demo"))),
        cfg.agent_specs(),
        SystemClock(),
    )
    engine.restore(calls, agents, {str(r.get("id")): r for r in queue_rows})
    configured = {b.id: b for b in cfg.booths}
    booth_rows = []
    for bid in sorted(set(configured) | set(booths)):
        view = dict(booths.get(bid) or {})
        view.setdefault("id", bid)
        view["configured"] = bid in configured
        view["call"] = engine.by_booth.get(bid)
        if bid in configured:
            view["name"] = configured[bid].name
        booth_rows.append(view)
    return {
        "ts": time.time(),
        "running": running is not None,
        "pid": running.get("pid") if running else None,
        "database": str(db),
        "agents": engine.agents_view(),
        "queues": engine.queues_view(),
        "calls": engine.calls_view(),
        "booths": booth_rows,
        "unknown_booths": unknown,
    }


def _when(ts: object) -> str:
    if not isinstance(ts, int | float):
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _alerts(booth: dict[str, Any]) -> str:
    """The booth's alerts for the status table: jumps in its event numbering."""
    jumps = booth.get("seq_jumps") or 0
    last = booth.get("last_seq_jump") or {}
    if not jumps:
        return ""
    return f"seq jump ×{jumps} (last {last.get('from')} → {last.get('to')})"


def status(
    config: ConfigOpt,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object")] = False,
) -> None:
    """Agents, queues with waiting calls, booths with state, health and alerts, and the booths
    refused for not being in the tenant config."""
    cfg = _load(config)
    try:
        data = collect_status(cfg)
    except FileNotFoundError as exc:
        err.print(f"[red]lisa bridge status:[/] {exc}")
        raise typer.Exit(3) from None
    if as_json:
        print(json.dumps(data, ensure_ascii=False, default=str))
        return
    out = Console()
    state = f"running (pid {data['pid']})" if data["running"] else "[red]NOT running[/]"
    out.print(f"[bold]Bridge[/] {cfg.bridge.name}: {state} · {data['database']}")
    t = Table(title="Queues")
    for col in ("queue", "open", "waiting", "ringing", "talking", "agents in", "ready", "oldest"):
        t.add_column(col)
    for q in data["queues"]:
        t.add_row(
            q["id"],
            "yes" if q["open"] else "closed",
            str(q["waiting"]),
            str(q["ringing"]),
            str(q["connected"]),
            str(q["logged_in"]),
            str(q["ready"]),
            f"{q['oldest_wait_s']:.0f} s" if q["waiting"] else "",
        )
    out.print(t)
    t = Table(title="Agents")
    for col in ("agent", "status", "reason", "for", "call", "calls"):
        t.add_column(col)
    for a in data["agents"]:
        t.add_row(
            a["id"],
            a["status"],
            a["reason"] or "",
            f"{a['in_status_s']:.0f} s" if a["in_status_s"] is not None else "",
            a["call"] or "",
            str(a["calls_taken"]),
        )
    out.print(t)
    t = Table(title="Booths")
    for col in ("booth", "online", "state", "in service", "call", "health", "alerts"):
        t.add_column(col)
    for b in data["booths"]:
        bad = [
            f"{k}: {v.get('status')}"
            for k, v in (b.get("health") or {}).items()
            if v.get("status") != "ok"
        ]
        t.add_row(
            b["id"],
            "yes" if b.get("online") else "no",
            str(b.get("detail") or b.get("state") or "?"),
            {True: "yes", False: "NO", None: "?"}[b.get("in_service")],
            b.get("call") or "",
            ", ".join(bad) or ("ok" if b.get("health") else "?"),
            _alerts(b),
        )
    out.print(t)
    if data["unknown_booths"]:
        t = Table(title="Refused: booths not in the tenant config (last 50)")
        for col in ("booth id", "messages", "last topic", "first seen", "last seen"):
            t.add_column(col)
        for u in data["unknown_booths"]:
            t.add_row(
                str(u.get("id")),
                str(u.get("count")),
                str(u.get("topic") or ""),
                _when(u.get("first_seen")),
                _when(u.get("last_seen")),
            )
        out.print(t)
    if data["calls"]:
        t = Table(title="Calls")
        for col in ("call", "booth", "queue", "status", "agent", "position", "waiting"):
            t.add_column(col)
        for c in data["calls"]:
            if c["kind"] != "call":
                continue
            t.add_row(
                c["id"],
                c["booth"],
                c["queue"],
                c["status"],
                c["agent"] or "",
                str(c["position"] or "") if c["status"] == "waiting" else "",
                f"{c['wait_s']:.0f} s" if c["status"] in ("waiting", "ringing") else "",
            )
        out.print(t)
