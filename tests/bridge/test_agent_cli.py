"""``lisa agent``: the script parser, and scripted runs as a subprocess against the real API
(bridge + uvicorn in a background thread of the test process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_harness import BOOTH, PASSWORD, ThreadedApi, when_agent

from cloud_bridge.agent_cli import UsageError, parse_script, parse_step

LISA = str(Path(sys.executable).parent / "lisa")


# ------------------------------------------------------------------------------ parsing
def test_parse_script() -> None:
    steps = parse_script(
        "ready; wait offer 30; accept\n# a comment\n  wait 1 ;hangup;;\n"
        "transfer @wohngeld1 fallback wohngeld; consult wohngeld; "
        'cmd gartz-1 light.set {"brightness": 0.5}'
    )
    assert [(s.verb, s.args) for s in steps] == [
        ("ready", ()),
        ("wait", ("offer", "30")),
        ("accept", ()),
        ("wait", ("1",)),
        ("hangup", ()),
        ("transfer", ("@wohngeld1", "fallback", "wohngeld")),
        ("consult", ("wohngeld",)),
        ("cmd", ("gartz-1", "light.set")),
    ]
    assert steps[-1].json_args == {"brightness": 0.5}
    assert parse_step("expect status busy").args == ("status", "busy")
    assert parse_step("pause lunch").args == ("lunch",)
    assert parse_step("exit").verb == "quit"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dance", "unknown command"),
        ("wait offer soon", "not a number"),
        ("wait forever", "wait offer"),
        ("expect status sleepy", "expect status"),
        ("expect mood ready", "expect status"),
        ("ready now", "takes no arguments"),
        ("transfer", "transfer QUEUE"),
        ("transfer a b", "transfer QUEUE"),
        ("cmd gartz-1", "cmd BOOTH COMMAND"),
        ("cmd gartz-1 ping {oops", "not JSON"),
        ("cmd gartz-1 ping [1]", "JSON object"),
        ("accept a b", "accept [CALL]"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_script(f"ready; {text}")
    assert message in str(err.value) and text in str(err.value)


# --------------------------------------------------------------------------- subprocess
@pytest.fixture
def api(tmp_path: Path) -> Iterator[ThreadedApi]:
    server = ThreadedApi(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LISA_")}
    env["COLUMNS"] = "200"
    return env


def _lisa_agent(
    url: str, *args: str, stdin: str = f"{PASSWORD}\n", user: str = "clearing1"
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [LISA, "agent", "--url", url, "--user", user, "--password-stdin", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def _run(proc: subprocess.Popen[str], stdin: str = f"{PASSWORD}\n") -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(stdin, timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"lisa agent hung\nstdout: {out}\nstderr: {err}") from None
    return proc.returncode, out, err


def _json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


async def _call_when_ready(api: ThreadedApi, agent: str = "clearing1") -> str:
    await when_agent(api.bridge, agent, "ready", 30)
    return await api.bridge.call_requested(BOOTH, "session-1")


def test_scripted_call(api: ThreadedApi) -> None:
    call_future = api.submit(_call_when_ready(api))
    proc = _lisa_agent(
        api.url,
        "--json",
        "--script",
        "ready; wait offer 20; accept; wait connected 5; expect status busy; "
        "hangup; wait ended 5; expect status ready; logout",
    )
    code, out, err = _run(proc)
    assert code == 0, err
    call = call_future.result(5)
    items = _json_lines(out)
    assert items[0]["type"] == "snapshot"
    types = [i["type"] for i in items]
    assert {"offer", "call", "call_ended", "agent"} <= set(types)
    offer = next(i for i in items if i["type"] == "offer")
    assert (offer["call"], offer["agent"], offer["booth"]) == (call, "clearing1", BOOTH)
    ended = next(i for i in items if i["type"] == "call_ended")
    assert ended == {"type": "call_ended", "call": call, "reason": "agent_hangup"}
    assert "failed" not in err
    status = api.bridge.status()
    assert next(a for a in status["agents"] if a["id"] == "clearing1")["status"] == "logged_out"


def test_scripted_human_output_and_script_file_from_stdin(api: ThreadedApi) -> None:
    call_future = api.submit(_call_when_ready(api))
    proc = _lisa_agent(api.url, "--script-file", "-")
    script = "ready\nwait offer 20\naccept\nstatus\nhangup\nwait ended 5\n"
    code, out, err = _run(proc, stdin=f"{PASSWORD}\n{script}")
    assert code == 0, err + out
    call = call_future.result(5)
    assert f"RING call {call} from booth {BOOTH}" in out
    assert f"CONNECTED call {call}" in out
    assert f"ENDED call {call}" in out
    assert "status busy" in out


def test_failed_wait_exits_1(api: ThreadedApi) -> None:
    code, _, err = _run(_lisa_agent(api.url, "--script", "ready; wait offer 0.3; accept"))
    assert code == 1
    assert "wait offer 0.3" in err and "no offer event within 0.3 s" in err


def test_failed_step_exits_1(api: ThreadedApi) -> None:
    code, _, err = _run(_lisa_agent(api.url, "--script", "accept"))
    assert code == 1 and "no call is offered to you" in err
    code, _, err = _run(_lisa_agent(api.url, "--script", f"cmd {BOOTH} door.open"))
    assert code == 1 and "command_denied" in err
    code, _, err = _run(_lisa_agent(api.url, "--script", "ready; expect status busy"))
    assert code == 1 and "status is ready" in err


def test_login_failure_exits_2(api: ThreadedApi) -> None:
    code, _, err = _run(_lisa_agent(api.url, "--script", "ready"), stdin="wrong-password\n")
    assert code == 2 and "login failed" in err and "wrong-password" not in err


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9"  # never reached
    code, _, err = _run(_lisa_agent(url, "--script", "ready; dance"))
    assert code == 2 and "unknown command 'dance'" in err
    code, _, err = _run(_lisa_agent(url, "--script", "ready", user=""))
    assert code == 2 and "--user" in err
    code, _, err = _run(_lisa_agent("ftp://x", "--script", "ready"))
    assert code == 2 and "--url" in err
    code, _, err = _run(_lisa_agent(url, "--script-file", str(tmp_path / "missing.txt")))
    assert code == 2 and "missing.txt" in err
    code, _, err = _run(_lisa_agent(url, "--script", "ready"))  # nobody listens on port 9
    assert code == 2 and "cannot reach the bridge" in err


def test_interactive_session(api: ThreadedApi) -> None:
    call_future = api.submit(_call_when_ready(api))
    proc = _lisa_agent(api.url)
    commands = "ready\nwait offer 20\naccept\nstatus\nbogus\nhelp\nhangup\nwait ended 5\nquit\n"
    code, out, err = _run(proc, stdin=f"{PASSWORD}\n{commands}")
    assert code == 0, err
    call = call_future.result(5)
    assert "logged in as clearing1" in out
    assert f"RING call {call}" in out and f"ENDED call {call}" in out
    assert "transfer @CLERK [fallback Q]" in out  # help, markup escaped
    assert "unknown command 'bogus'" in err
    assert "logged out of the ACD" in out  # quit while ready: no more offers
    status = api.bridge.status()
    assert next(a for a in status["agents"] if a["id"] == "clearing1")["status"] == "logged_out"
