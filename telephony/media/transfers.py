"""Transfers and three-party calls inside the citizen's session (a mixin of ``CallSession``).

pyVoIP has no REFER (probes/voice-bridge.md), so every transfer happens in our bridge: we dial
the target through the proxy, then regroup legs. The citizen is never in silence: while a target
rings the citizen hears hold audio (or keeps talking to the operator, for a conference), and a
target that does not answer hands the citizen back to the operator ("recall").

Methods block while the target rings (call them from a worker thread, e.g. the console command
pool) and return ``{"ok": bool, "failure": str | None, "leg": name | None}``.
"""
from __future__ import annotations

import logging

log = logging.getLogger("telephony.media.transfers")

TRANSFER_RING_TIMEOUT = 20.0


class TransfersMixin:
    transfer_ring_timeout: float = TRANSFER_RING_TIMEOUT

    # -- helpers ------------------------------------------------------------------------------------
    def _operator_legs(self):
        return [leg for leg in self.live_legs() if leg.name != self.consulting]

    def _dial(self, extension: str):
        if self.dialer is None:
            return None, "proxy_unreachable"
        result = self.dialer.start(extension, self.transfer_ring_timeout, display=self.caller or "")
        self.pending_dials.append(result)
        try:
            result.wait(self.transfer_ring_timeout + 12)
        finally:
            self.pending_dials.remove(result)
        if self.ended_mono is not None:  # the citizen hung up meanwhile
            if result.leg is not None:
                result.cancel()
            return None, "caller_gone"
        return result.leg, result.failure

    def _failed(self, kind: str, extension: str, failure: str) -> dict:
        self._publish("call.transfer_failed", {"call_id": self.call_uuid, "kind": kind,
                                               "extension": extension, "failure": failure})
        log.info("call.transfer_failed call=%s kind=%s ext=%s failure=%s", self.call_uuid, kind,
                 extension, failure)
        return {"ok": False, "failure": failure, "leg": None}

    # -- the default policy when a party hangs up --------------------------------------------------
    def after_leg_lost(self, leg, cause: str) -> None:
        """A party other than the citizen hung up. Consulted party gone: back to the operator.
        Operator gone during a consult: the citizen goes to the consulted party. Citizen left with
        nobody: the call ends (hang-up side: that party)."""
        engine = self.bridge_engine
        if self.consulting == leg.name:
            self.consulting = None
            self._publish("call.consult", {"call_id": self.call_uuid, "extension": leg.extension,
                                           "state": "ended"})
            self.resume()
            return
        if self.consulting and self.held:
            target = self.legs.get(self.consulting)
            self.consulting = None
            if target is not None and not target.ended:
                engine.set_groups([{"caller", target.name}])
                self._end_hold()
                self._publish("call.transferred", {"call_id": self.call_uuid, "kind": "consult",
                                                   "extension": target.extension, "from_leg": leg.name})
                return
        if engine is not None and len(engine.group_of("caller")) > 1:
            return  # still talking with someone (three-party call)
        if self.held and self.live_legs():
            return  # on hold while another party is still on the call
        self.hangup_side = "operator" if self._speaker(leg) == "operator" else "system"
        try:
            self.caller_leg.call.hangup(f"{self._speaker(leg)}_hangup")
        except Exception:  # noqa: BLE001 - the citizen left at the same moment
            pass

    # -- transfers ----------------------------------------------------------------------------------
    def transfer_blind(self, extension: str, *, kind: str = "blind", speaker: str = "department") -> dict:
        """Hand the citizen to ``extension``: hold audio while it rings, then the citizen talks to
        the target and the operator is released. No answer: the citizen is back with the operator."""
        operators = self._operator_legs()
        if self.bridge_engine is None or self.ended_mono is not None:
            return {"ok": False, "failure": "not_bridged", "leg": None}
        self.hold()
        leg_call, failure = self._dial(extension)
        if leg_call is None:
            if failure != "caller_gone":
                self.resume()
            return self._failed(kind, extension, failure or "rejected")
        leg = self.add_leg(leg_call, speaker, extension=extension)
        if leg is None:
            return self._failed(kind, extension, "caller_gone")
        self.bridge_engine.set_groups([{"caller", leg.name}], fill={"caller"})
        self._end_hold()
        for other in operators:
            self.release_leg(other, "transferred")
        self._publish("call.bridged", {"call_id": self.call_uuid, "leg": leg.name,
                                       "extension": extension, "speaker": self._speaker(leg)})
        self._publish("call.transferred", {"call_id": self.call_uuid, "kind": kind, "extension": extension,
                                           "from_leg": ",".join(o.name for o in operators)})
        log.info("call.transferred call=%s kind=%s ext=%s", self.call_uuid, kind, extension)
        return {"ok": True, "failure": None, "leg": leg.name}

    def transfer_emergency(self, kind: str) -> dict:
        """Transfer to the emergency number configured for 110/119/120/122
        (HOTLINE_EMERGENCY_NUMBERS), like a blind transfer with recall."""
        number = self.emergency_numbers.get(str(kind))
        if not number:
            return self._failed("emergency", str(kind), "not_configured")
        return self.transfer_blind(number, kind="emergency", speaker="emergency")

    def consult(self, extension: str) -> dict:
        """Citizen on hold; the operator talks to ``extension`` privately."""
        if self.bridge_engine is None or self.consulting or self.ended_mono is not None:
            return {"ok": False, "failure": "not_possible", "leg": None}
        operators = self._operator_legs()
        self.hold()
        leg_call, failure = self._dial(extension)
        if leg_call is None:
            if failure != "caller_gone":
                self.resume()
            return self._failed("consult", extension, failure or "rejected")
        leg = self.add_leg(leg_call, "department", extension=extension)
        if leg is None:
            return self._failed("consult", extension, "caller_gone")
        self.consulting = leg.name
        self.bridge_engine.set_groups([{leg.name, *(o.name for o in operators)}], held={"caller"})
        self._publish("call.consult", {"call_id": self.call_uuid, "extension": extension, "state": "talking"})
        return {"ok": True, "failure": None, "leg": leg.name}

    def complete_transfer(self) -> dict:
        """After ``consult``: the citizen talks to the consulted party; the operator is released."""
        target = self.legs.get(self.consulting or "")
        if target is None or target.ended:
            return {"ok": False, "failure": "no_consult", "leg": None}
        operators = self._operator_legs()
        self.consulting = None
        self.bridge_engine.set_groups([{"caller", target.name}])
        self._end_hold()
        for other in operators:
            self.release_leg(other, "transferred")
        self._publish("call.transferred", {"call_id": self.call_uuid, "kind": "consult",
                                           "extension": target.extension,
                                           "from_leg": ",".join(o.name for o in operators)})
        return {"ok": True, "failure": None, "leg": target.name}

    def cancel_consult(self) -> dict:
        target = self.legs.get(self.consulting or "")
        if target is None:
            return {"ok": False, "failure": "no_consult", "leg": None}
        self.consulting = None
        self.release_leg(target, "consult_cancelled")
        self._publish("call.consult", {"call_id": self.call_uuid, "extension": target.extension,
                                       "state": "cancelled"})
        self.resume()
        return {"ok": True, "failure": None, "leg": None}

    def conference(self, extension: str = "") -> dict:
        """Three-party call: every party hears the sum of the other two. During a consult the
        consulted party joins; otherwise ``extension`` is dialled while the others keep talking."""
        if self.bridge_engine is None or self.ended_mono is not None:
            return {"ok": False, "failure": "not_bridged", "leg": None}
        if self.consulting:
            leg = self.legs[self.consulting]
            self.consulting = None
        else:
            leg_call, failure = self._dial(extension)
            if leg_call is None:
                return self._failed("conference", extension, failure or "rejected")
            leg = self.add_leg(leg_call, "department", extension=extension)
            if leg is None:
                return self._failed("conference", extension, "caller_gone")
        parties = ["caller", *(l.name for l in self.live_legs())]
        self.bridge_engine.set_groups([set(parties)])
        self._end_hold()
        self._publish("call.conference", {"call_id": self.call_uuid, "extension": leg.extension,
                                          "parties": parties})
        return {"ok": True, "failure": None, "leg": leg.name}
