"""The production layout as a whole (issue 15): honcho runs the generated Procfile — nginx, 2 `web`,
`api`, 2 Celery workers, beat, 2 `sip` processes behind Kamailio's dispatcher — on a PostgreSQL
database of its own and Redis. One layout is shared by the module's tests (started once: ~45 s on
two cores); the kill test runs last because it kills a `sip` process.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
import wave
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.bridge_helpers import (Citizen, SippPhone, cyclic_runs, describe_breaks, make_source, payloads,
                                  without_fill)
from tests.conftest import PG_ADMIN_URL, _claim_redis_db, free_port, require_service
from tests.telephony_helpers import free_udp_port, require_sipp, wait_for

pytestmark = pytest.mark.sip
OPERATORS = (("city_a", "3101"), ("city_b", "3102"), ("city_c", "3103"))
PASSWORD = "city-Layout-9"


class Addr:
    """Where a SIPp scenario sends (Kamailio, or one `sip` process directly)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port


def test_make_up_refuses_clearly_when_postgresql_or_redis_do_not_answer(tmp_path):
    """`make up` (hotline deploy up) checks the services before it writes or starts anything."""
    import sys

    env = dict(os.environ, DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/hotline",
               REDIS_URL=f"redis://127.0.0.1:{free_port()}/1", HOTLINE_UP_DIR=str(tmp_path / "up"))
    out = subprocess.run([str(Path(sys.executable).with_name("hotline")), "deploy", "up"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "PostgreSQL at postgresql+psycopg://postgres@127.0.0.1" in out.stderr and "does not answer" in out.stderr
    assert "Redis at redis://127.0.0.1" in out.stderr, out.stderr
    assert not (tmp_path / "up" / "Procfile").exists()  # nothing rendered, nothing started


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    from hotline.app.deploy import NGINX, Layout
    from hotline.app.layout import prepare_database, start_layout
    from telephony.sip.proxy import KAMAILIO

    require_service("postgres")
    require_service("redis")
    require_sipp()
    for tool in (NGINX, KAMAILIO):
        if not os.path.exists(tool):
            pytest.fail(f"{tool} missing: run scripts/system-deps.sh") if os.environ.get("CI") == "true" \
                else pytest.skip(f"{tool} missing")
    run = tmp_path_factory.mktemp("city")
    db_url = make_url(PG_ADMIN_URL).set(database=f"hotline_city_{os.getpid()}").render_as_string(hide_password=False)
    _drop(db_url)
    prepare_database(db_url, seed=False)
    _add_users(db_url)
    low = 30000 + (os.getpid() % 100) * 200
    layout = Layout(run_dir=Path(run), database_url=db_url, redis_url=_claim_redis_db(), secret_key="city-secret-" * 3,
                    http_port=free_port(), web_ports=[free_port(), free_port()], api_port=free_port(),
                    sip_ports=[free_udp_port(), free_udp_port()], kamailio_port=free_udp_port(),
                    rtp_low=low, rtp_per_sip=100, workers=2, worker_concurrency=1, api_workers=1,
                    env={"HOTLINE_ACD_WRAPUP": "2", "HOTLINE_ACD_RING_TIMEOUT": "8", "HOTLINE_ACD_MAX_WAIT": "40",
                         "HOTLINE_SIP_STALE_SECONDS": "4", "SIP_ANSWER_DELAY_MS": "50", "VOSK_MODEL_DIR": ""})
    running = start_layout(layout, timeout=180)
    try:
        yield running
    finally:
        running.stop()
        _drop(db_url)


def _drop(db_url: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text(f'drop database if exists "{make_url(db_url).database}" with (force)'))
    engine.dispose()


def _add_users(db_url: str) -> None:
    from sqlalchemy.orm import Session

    from hotline.auth import create_user

    engine = create_engine(db_url)
    with Session(engine) as s:
        for name, ext in OPERATORS:
            create_user(s, name, PASSWORD, "operator", display_name=name, sip_extension=ext)
        create_user(s, "city_sup", PASSWORD, "supervisor", display_name="督办员")
        s.commit()
    engine.dispose()


def _sql(city, query: str, **params) -> list:
    engine = create_engine(city.layout.database_url)
    try:
        with engine.connect() as c:
            return list(c.execute(text(query), params))
    finally:
        engine.dispose()


def _http(url: str, *, method: str = "GET", body: dict | None = None, token: str | None = None):
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _token(city, user: str) -> str:
    status, raw = _http(f"{city.url}/api/v1/auth/token", method="POST", body={"username": user, "password": PASSWORD})
    assert status == 200, raw
    return json.loads(raw)["token"]


def _set_state(city, token: str, state: str) -> None:
    status, raw = _http(f"{city.url}/api/v1/console/state", method="POST", body={"state": state}, token=token)
    assert status == 200, raw


def _access_log(city) -> list[str]:
    return (city.layout.run_dir / "nginx-access.log").read_text().splitlines()


def test_nginx_routes_pages_static_sockets_and_bearer_api_and_kamailio_dispatches_to_both_sip(city):
    layout = city.layout
    status, page = _http(f"{city.url}/login")
    assert status == 200 and "登录".encode() in page
    static = sorted(p.name for p in (Path(__file__).parents[1] / "agent_console" / "static" / "console").glob("*.js"))[0]
    status, body = _http(f"{city.url}/console/static/console/{static}")
    assert status == 200 and body
    token = _token(city, "city_sup")
    status, raw = _http(f"{city.url}/api/v1/tickets?per_page=1", token=token)
    assert status == 200, raw
    # nginx writes a request's log line after it sent the response: wait for the last one
    assert wait_for(lambda: any("GET /api/v1/tickets?per_page=1 " in ln for ln in _access_log(city)), 10)
    lines = _access_log(city)
    login = [ln for ln in lines if "GET /login " in ln][-1]
    assert f"upstream=127.0.0.1:{layout.web_ports[0]}" in login or f"upstream=127.0.0.1:{layout.web_ports[1]}" in login
    assert "upstream=- " in [ln for ln in lines if f"/console/static/console/{static}" in ln][-1]  # nginx itself
    api_line = [ln for ln in lines if "GET /api/v1/tickets?per_page=1 " in ln][-1]
    assert f"upstream=127.0.0.1:{layout.api_port}" in api_line and "pool=hotline_api" in api_line
    # the consoles' endpoints go to `web` whatever the credentials (its processes keep the call board)
    status, raw = _http(f"{city.url}/api/v1/console/calls", token=token)
    assert status == 200 and json.loads(raw) == {"items": []}, raw
    assert wait_for(lambda: any("GET /api/v1/console/calls " in ln for ln in _access_log(city)), 10)
    console_line = [ln for ln in _access_log(city) if "GET /api/v1/console/calls " in ln][-1]
    assert "pool=hotline_web" in console_line and f"upstream=127.0.0.1:{layout.api_port}" not in console_line
    # Socket.IO: the Engine.IO handshake over polling and a websocket upgrade, through nginx to `web`
    status, raw = _http(f"{city.url}/socket.io/?EIO=4&transport=polling")
    assert status == 200 and raw.startswith(b"0{"), raw
    import websocket

    ws = websocket.create_connection(f"ws://127.0.0.1:{layout.http_port}/socket.io/?EIO=4&transport=websocket",
                                     timeout=10)
    try:
        assert ws.recv().startswith("0{")  # the open packet, over the upgraded connection
    finally:
        ws.close()
    ws_line = wait_for(lambda: ([ln for ln in _access_log(city) if "transport=websocket" in ln] or [None])[-1], 10)
    assert ws_line and '" 101 ' in ws_line and "pool=hotline_web" in ws_line
    # Kamailio's dispatcher probes both `sip` processes and has both active
    ctl = f"unix:{layout.run_dir}/kamailio_ctl"
    out = wait_for(lambda: (lambda o: o if o.count("FLAGS: AP") == 2 else None)(
        subprocess.run(["kamcmd", "-s", ctl, "dispatcher.list"], capture_output=True, text=True).stdout), 15)
    assert out, subprocess.run(["kamcmd", "-s", ctl, "dispatcher.list"], capture_output=True, text=True).stdout
    for port in layout.sip_ports:
        assert f"sip:127.0.0.1:{port}" in out


def test_two_sip_processes_share_one_queue_first_come_first_served(city, tmp_path):
    """Three operators ready (a longest), two callers at once, one on each `sip` process: the one
    that queued first gets the longest-ready operator, the other the next one; nobody is offered
    two calls; the wallboard shows the same figures on both `web` processes."""
    layout = city.layout
    tokens = {name: _token(city, name) for name, _ext in OPERATORS}
    audio = Path(__file__).parent / "data" / "audio" / "ko_1.ulaw"
    phones = [SippPhone(Addr("127.0.0.1", layout.kamailio_port), ext, tmp_path, audio=audio, end="wait_bye",
                        timeout=40) for _name, ext in OPERATORS]
    citizens = []
    try:
        for name, _ext in OPERATORS:  # ready in this order: city_a has waited longest
            _set_state(city, tokens[name], "idle")
            time.sleep(0.05)  # distinct ready-since times
        for i, port in enumerate(layout.sip_ports):
            citizens.append(Citizen(Addr("127.0.0.1", port), tmp_path, audio, hold_ms=4000,
                                    caller=f"1380013800{i + 1}", timeout=40))
        rows = wait_for(lambda: (lambda r: r if len(r) == 2 else None)(_sql(
            city, "select call_uuid, queued_at, operator_id, sip_instance, state from call_queue "
                  "where state = 'connected' order by queued_at, id")), 30)
        assert rows, (_sql(city, "select state, outcome, reason, operator_id from call_queue"),
                      _sql(city, "select * from call_offers"), _sql(city, "select * from agent_states"),
                      [c.diagnose() for c in citizens], city.log_tail(6000))
        sup = _token(city, "city_sup")
        boards = [json.loads(_http(f"http://127.0.0.1:{p}/api/v1/console/wallboard", token=sup)[1])["calls"]
                  for p in layout.web_ports]
        for c in citizens:
            code, out = c.wait(40)
            assert code == 0, out
    finally:
        for c in citizens:
            c.stop()
        for p in phones:
            p.stop()
    assert len({r.sip_instance for r in rows}) == 2  # one call on each `sip` process
    users = dict(_sql(city, "select username, id from users"))
    assert [r.operator_id for r in rows] == [users["city_a"], users["city_b"]]  # first come, longest ready
    offers = _sql(city, "select user_id, call_uuid from call_offers")
    per_user = {}
    for user_id, _call in offers:
        per_user[user_id] = per_user.get(user_id, 0) + 1
    assert sorted(per_user.values()) == [1, 1] and users["city_c"] not in per_user, offers
    assert boards[0] == boards[1] and boards[0]["talking"] == 2, boards
    ended = wait_for(lambda: (lambda r: r if len(r) == 2 else None)(_sql(
        city, "select outcome from call_queue where state = 'ended'")), 20)
    assert ended and {r.outcome for r in ended} == {"answered"}, ended
    # wrap-up (2 s) ends and both are ready again, whichever process started it
    assert wait_for(lambda: {s for (s,) in _sql(city, "select state from agent_states a join users u on u.id = a.user_id "
                                                       "where u.username in ('city_a', 'city_b')")} == {"idle"}, 20)


def test_a_citizen_through_the_dispatcher_hangs_up_and_the_call_ends_at_once(city, tmp_path):
    """The citizen's ACK and BYE go through Kamailio to the `sip` process that answered (the 200 OK's
    Contact, as RFC 3261 UAs send in-dialog requests): nothing registers as the service number in this
    layout, so a BYE addressed to 12345 got 404 and the call stayed 通话中 until the RTP timeout."""
    layout = city.layout
    _sql_exec(city, "update agent_states set state = 'offline'")
    name, ext = OPERATORS[2]
    audio = Path(__file__).parent / "data" / "audio" / "ko_1.ulaw"
    phone = SippPhone(Addr("127.0.0.1", layout.kamailio_port), ext, tmp_path, audio=audio, end="wait_bye", timeout=40)
    citizen = None
    try:
        _set_state(city, _token(city, name), "idle")
        citizen = Citizen(Addr("127.0.0.1", layout.kamailio_port), tmp_path, audio, hold_ms=2000,
                          caller="13700137001", timeout=30)
        code, out = citizen.wait(40)
        hung_up = time.time()
        assert code == 0, (out, city.log_tail(3000))
        row = wait_for(lambda: _sql(city, "select outcome, hangup_side, ended_at from call_queue "
                                          "where caller = '13700137001' and state = 'ended'"), 10)
        assert row, (_sql(city, "select state, outcome from call_queue where caller = '13700137001'"),
                     time.time() - hung_up)
        assert (row[0].outcome, row[0].hangup_side) == ("answered", "citizen")
        assert phone.wait(20) == 0, phone.errors()  # the operator's phone got its BYE
    finally:
        if citizen:
            citizen.stop()
        phone.stop()


def test_kill_9_of_a_sip_process_keeps_the_other_calls_and_reaps_its_own(city, tmp_path):
    layout = city.layout
    _sql_exec(city, "update agent_states set state = 'offline'")
    tokens = {name: _token(city, name) for name, _ext in OPERATORS}
    source = make_source(tmp_path / "citizen.ulaw", 2.0, 440, seed=3)
    kam = Addr("127.0.0.1", layout.kamailio_port)
    voice = Path(__file__).parent / "data" / "audio" / "ko_2.ulaw"
    phones = {ext: SippPhone(kam, ext, tmp_path, audio=voice, end="wait_bye", timeout=60) for _n, ext in OPERATORS[:2]}
    citizens = []
    try:
        _set_state(city, tokens["city_a"], "idle")
        first = Citizen(Addr("127.0.0.1", layout.sip_ports[0]), tmp_path, tmp_path / "citizen.ulaw", hold_ms=30000,
                        caller="13900139001", timeout=60)
        citizens.append(first)
        assert wait_for(lambda: _sql(city, "select 1 from call_queue where caller = '13900139001' "
                                           "and state = 'connected'"), 20), first.diagnose()
        _set_state(city, tokens["city_b"], "idle")
        second = Citizen(Addr("127.0.0.1", layout.sip_ports[1]), tmp_path, tmp_path / "citizen.ulaw", hold_ms=14000,
                         caller="13900139002", timeout=60)
        citizens.append(second)
        assert wait_for(lambda: _sql(city, "select 1 from call_queue where caller = '13900139002' "
                                           "and state = 'connected'"), 20), second.diagnose()
        time.sleep(2.5)  # both calls talk for a while (the recording of the first has seconds in it)
        dead = city.kill_sip(0)
        killed_at = time.time()
        # a new call through Kamailio is answered by a live `sip` process within 5 s
        third = Citizen(kam, tmp_path, tmp_path / "citizen.ulaw", hold_ms=3000, caller="13900139003", timeout=30)
        citizens.append(third)
        row = wait_for(lambda: _sql(city, "select sip_instance from call_queue where caller = '13900139003'"), 10)
        reached = time.time() - killed_at
        assert row and row[0].sip_instance != dead["id"], (row, third.diagnose())
        assert reached <= 5.0, reached
        # the dead process's call is closed by the reaper of the survivor
        closed = wait_for(lambda: _sql(city, "select q.outcome, q.hangup_side, c.hangup_cause, c.ticket_number, "
                                             "c.recording_path from call_queue q join calls c on c.call_uuid = q.call_uuid "
                                             "where q.caller = '13900139001' and q.state = 'ended'"), 20)
        assert closed, (_sql(city, "select * from sip_instances"), city.log_tail())
        code, out = second.wait(40)
        assert code == 0, out  # the call on the other process went on to its normal end
    finally:
        for c in citizens:
            c.stop()
        for p in phones.values():
            p.stop()
    outcome, side, cause, ticket, rec = closed[0]
    assert (outcome, side, cause) == ("interrupted", "system", "interrupted")
    assert ticket, "the interrupted call got its draft ticket"
    reaped = _sql(city, "select reaped_by, reaped_calls from sip_instances where id = :i", i=dead["id"])
    assert reaped[0].reaped_by and reaped[0].reaped_calls >= 1
    # its recording plays up to (at most a second before) the kill: WAV header repaired
    with wave.open(os.path.join(layout.run_dir, "instance", "recordings", rec)) as w:
        seconds = w.getnframes() / w.getframerate()
    talked = _sql(city, "select extract(epoch from (ended_at - queued_at)) from call_queue "
                        "where caller = '13900139001'")[0][0]
    assert seconds >= 2.0 and seconds >= float(talked) - 1.5, (seconds, talked)
    # the operator of the dead call is not left 通话中: wrap-up, then ready
    assert wait_for(lambda: _sql(city, "select state from agent_states a join users u on u.id = a.user_id "
                                       "where u.username = 'city_a'")[0][0] == "idle", 20)
    # the operator on the surviving process heard the citizen frame by frame, through the kill (and
    # through the pauses of a busy machine: a frame late for its tick is played late, never dropped)
    received = payloads(phones["3102"].capture)
    heard = without_fill([p for _, p in received])
    runs = cyclic_runs(heard, source)
    stats = _sql(city, "select stats from calls where caller = '13900139002'")
    gaps = sorted((round(b[0] - a[0], 3) for a, b in zip(received, received[1:])), reverse=True)[:5]
    assert len(runs) == 1 and runs[0] >= 400, (runs[:20], describe_breaks(heard, source), stats,
                                               f"longest gaps between packets {gaps}")


def _sql_exec(city, query: str) -> None:
    engine = create_engine(city.layout.database_url)
    with engine.begin() as c:
        c.execute(text(query))
    engine.dispose()

