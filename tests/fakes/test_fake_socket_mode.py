"""The fake Socket Mode server speaks Slack's wire format and re-sends what is not acked."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import websocket
from slack_sdk import WebClient
from slack_sdk.socket_mode.request import SocketModeRequest

from fakes.slack import FakeSlack
from fakes.slack.events import mention_event
from fakes.slack.socket_mode import FakeSocketMode


@pytest.fixture
def socket_mode() -> Iterator[FakeSocketMode]:
    with FakeSocketMode(ack_timeout_s=0.3, max_retries=2, refresh_grace_s=0.2) as fake:
        yield fake


def _connect(url: str) -> websocket.WebSocket:
    ws = websocket.create_connection(url, timeout=10)
    hello = json.loads(ws.recv())
    assert hello["type"] == "hello" and hello["num_connections"] >= 1
    assert hello["connection_info"]["app_id"]
    return ws


def test_apps_connections_open_hands_out_a_url_for_the_app_token_only(
    socket_mode: FakeSocketMode,
):
    with FakeSlack() as slack:
        slack.socket_mode = socket_mode
        url = WebClient(base_url=slack.api_url).apps_connections_open(app_token="xapp-1")["url"]
        assert url.startswith("ws://127.0.0.1:")
        refused = WebClient(token="xoxb-1", base_url=slack.api_url)
        with pytest.raises(Exception, match="invalid_auth"):
            refused.api_call("apps.connections.open")
    _connect(url).close()
    with pytest.raises(websocket.WebSocketException):  # single-use, like Slack's tickets
        _connect(url)


def test_an_envelope_has_slacks_shape_and_an_ack_is_recorded(socket_mode: FakeSocketMode):
    ws = _connect(socket_mode.new_url())
    body = mention_event(team="T1", channel="C1", user="U1", text="hi")
    envelope_id = socket_mode.send_event(body)
    message = json.loads(ws.recv())
    request = SocketModeRequest.from_dict(message)
    assert request is not None and request.type == "events_api"
    assert request.envelope_id == envelope_id and request.payload == body
    assert message["accepts_response_payload"] is False and message["retry_attempt"] == 0
    ws.send(json.dumps({"envelope_id": envelope_id}))
    assert socket_mode.wait_for(lambda: socket_mode.acked(envelope_id))
    assert len(socket_mode.acks_for(envelope_id)) == 1
    ws.close()


def test_a_click_is_delivered_as_an_interactive_envelope(socket_mode: FakeSocketMode):
    ws = _connect(socket_mode.new_url())
    click = {"type": "block_actions", "actions": [{"action_id": "a", "value": "v"}]}
    envelope_id = socket_mode.send_interaction(click)
    request = SocketModeRequest.from_dict(json.loads(ws.recv()))
    assert request is not None and request.type == "interactive"
    assert request.envelope_id == envelope_id and request.payload == click
    ws.send(json.dumps({"envelope_id": envelope_id}))
    assert socket_mode.wait_for(lambda: socket_mode.acked(envelope_id))
    ws.close()


def test_an_envelope_not_acked_in_time_is_sent_again_then_given_up(socket_mode: FakeSocketMode):
    ws = _connect(socket_mode.new_url())
    body = mention_event(team="T1", channel="C1", user="U1", text="x")
    envelope_id = socket_mode.send_event(body)
    attempts = [json.loads(ws.recv()) for _ in range(3)]
    assert [a["envelope_id"] for a in attempts] == [envelope_id] * 3
    assert [a["retry_attempt"] for a in attempts] == [0, 1, 2]
    assert [a["retry_reason"] for a in attempts] == ["", "timeout", "timeout"]
    assert socket_mode.wait_for(lambda: socket_mode._envelopes[envelope_id].gave_up)
    assert len(socket_mode.deliveries_of(envelope_id)) == 3
    ws.close()


def test_disconnect_warns_then_closes_with_a_close_frame(socket_mode: FakeSocketMode):
    ws = _connect(socket_mode.new_url())
    socket_mode.disconnect("refresh_requested")
    message = json.loads(ws.recv())
    assert message["type"] == "disconnect" and message["reason"] == "refresh_requested"
    opcode, _ = ws.recv_data_frame(True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert socket_mode.wait_for(lambda: socket_mode.connections[0].how_closed == "refresh")


@pytest.mark.parametrize("mode", ["eof", "reset"])
def test_an_abrupt_drop_sends_no_close_frame(socket_mode: FakeSocketMode, mode: str):
    ws = _connect(socket_mode.new_url())
    socket_mode.drop(mode)
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionResetError)):
        ws.recv_data_frame(True)


def test_a_silent_drop_answers_no_pings(socket_mode: FakeSocketMode):
    ws = _connect(socket_mode.new_url())
    ws.ping("before")
    opcode, _ = ws.recv_data_frame(True)
    assert opcode == websocket.ABNF.OPCODE_PONG
    socket_mode.drop("silent")
    ws.settimeout(0.5)
    ws.ping("after")
    with pytest.raises(websocket.WebSocketTimeoutException):
        ws.recv_data_frame(True)
    assert socket_mode.open_connections() == []
