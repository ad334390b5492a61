"""The queue model of every hall (排队叫号): tickets arrive, wait, are called,
served, transferred or give up; windows open, pause and close with the
hall's opening hours. Pure and clock-driven: the agenda decides when."""

from __future__ import annotations

import itertools
import math
import random
from bisect import bisect_right
from collections.abc import Callable
from functools import partial

from streams.registry import Hall, Registry, Window
from streams.simulator.catalog import Catalog
from streams.simulator.hall_state import (
    APPOINTMENT_LETTER,
    HOURLY_PROFILE,
    IMPATIENT_AFTER_S,
    LONG_WAIT_S,
    MAX_STAFFED_SHARE,
    P_APPOINTMENT,
    P_IMPATIENT,
    P_LONG_WAIT_WALKOUT,
    P_NO_SHOW,
    P_TRANSFER,
    PEAK_PROFILE,
    SERVICE_MEDIAN_S,
    SERVICE_SIGMA,
    TARGET_UTILISATION,
    TICKET_LETTER,
    HallSim,
    Served,
    Ticket,
    WindowSim,
    hall_sim,
    mean_service_s,
    mmdd,
    poisson,
)
from streams.simulator.hours import Session, is_open, local_day_and_second, session_at_or_after
from streams.simulator.kernel import Kernel


class Halls:
    """All halls of the registry, driven through one agenda."""

    def __init__(
        self,
        registry: Registry,
        kernel: Kernel,
        rng: random.Random,
        catalog: Catalog,
        on_completed: Callable[[Served, float], None],
        *,
        tickets_per_s: float,
    ) -> None:
        self.kernel = kernel
        self.rng = rng
        self.catalog = catalog
        self.on_completed = on_completed
        windows: dict[str, list[Window]] = {}
        for window in registry.windows():
            if isinstance(window, Window):
                windows.setdefault(window.hall_id, []).append(window)
        self.halls: dict[str, HallSim] = {}
        for hall in registry.halls():
            if isinstance(hall, Hall) and hall.city_code in kernel.sources:
                self.halls[hall.hall_id] = hall_sim(hall, kernel.sources[hall.city_code], windows.get(hall.hall_id, []))
        self._order = list(self.halls.values())
        self._cum: list[float] = []
        self.tickets_per_s = 0.0
        self.total_capacity = 0.0
        self.service_scale = 1.0
        self.configure(tickets_per_s)

    def configure(self, tickets_per_s: float) -> None:
        """Size staffing (and, past full staffing, service times) to the province's ticket rate."""
        self.tickets_per_s = tickets_per_s
        needed = tickets_per_s * PEAK_PROFILE / TARGET_UTILISATION
        full = sum(h.full_capacity for h in self._order)
        share = min(MAX_STAFFED_SHARE, needed / full) if full > 0 else 0.0
        for hs in self._order:
            n = len(hs.windows)
            hs.staffed_count = min(n, max(1, round(share * n))) if n else 0
            hs.capacity = hs.full_capacity * hs.staffed_count / n if n else 0.0
        self.total_capacity = sum(h.capacity for h in self._order)
        # Past full staffing, services get shorter rather than every line growing without end.
        served = TARGET_UTILISATION * self.total_capacity
        self.service_scale = min(1.0, served / (tickets_per_s * PEAK_PROFILE)) if tickets_per_s > 0 else 1.0
        self.rebuild_weights()

    @property
    def window_events_per_s(self) -> float:
        """Window opens, pauses, closes, logins and logouts per second of opening time."""
        total = 0.0
        for hs in self._order:
            open_s = sum(end - start for start, end in hs.spans)
            if open_s > 0:
                total += hs.staffed_count * (2 * len(hs.spans) + 2) / open_s
        return total

    # -- arrivals ------------------------------------------------------------------

    def rebuild_weights(self) -> None:
        """Per-hall arrival weights: proportional to window capacity, times any scenario boost."""
        self._cum = list(itertools.accumulate(h.capacity * h.boost for h in self._order))

    def start(self, t: float) -> None:
        for hs in self._order:
            self._schedule_session(hs, t)

    def sample_arrivals(self, start_t: float, end_t: float) -> None:
        """Schedule ticket arrivals in (start_t, end_t] as one thinned Poisson process for the province."""
        if not self._cum or self._cum[-1] <= 0 or end_t <= start_t or self.total_capacity <= 0:
            return
        per_capacity = self.tickets_per_s / self.total_capacity
        peak_rate = per_capacity * self._cum[-1] * PEAK_PROFILE
        for _ in range(poisson(self.rng, peak_rate * (end_t - start_t))):
            t = self.rng.uniform(start_t, end_t)
            hs = self._order[min(bisect_right(self._cum, self.rng.random() * self._cum[-1]), len(self._order) - 1)]
            _, second = local_day_and_second(t, self.kernel.offset_s)
            if self.rng.random() * PEAK_PROFILE < HOURLY_PROFILE.get(int(second // 3600), 0.5):
                self.kernel.agenda.at(t, partial(self._issue, hs))

    def _issue(self, hs: HallSim, t: float) -> None:
        if not hs.accepting(t) or not hs.kinds:
            return
        rng = self.rng
        kind = hs.kinds[min(bisect_right(hs.kind_cum, rng.random() * hs.kind_cum[-1]), len(hs.kinds) - 1)]
        appointment = rng.random() < P_APPOINTMENT
        letter = APPOINTMENT_LETTER if appointment else TICKET_LETTER.get(kind, "A")
        hs.counters[letter] = number = hs.counters.get(letter, 0) + 1
        item_id, dept_id = self.catalog.draw(rng, hs.hall.city_code)
        ticket = Ticket(f"{mmdd(hs.day)}-{letter}{number:03d}", kind, item_id, dept_id, appointment, t)
        hs.lines[kind][0 if appointment else 1].append(ticket)
        hs.waiting_by_kind[kind] += 1
        self._queue_event(hs, t, "ticket_issued", ticket)
        if rng.random() < P_IMPATIENT:
            self.kernel.agenda.at(t + rng.uniform(*IMPATIENT_AFTER_S), partial(self._give_up, hs, ticket, 1.0))
        self.kernel.agenda.at(t + LONG_WAIT_S, partial(self._give_up, hs, ticket, P_LONG_WAIT_WALKOUT))
        self._wake(hs, kind, t)

    def _give_up(self, hs: HallSim, ticket: Ticket, probability: float, t: float) -> None:
        if ticket.state != "waiting" or hs.closing or self.rng.random() >= probability:
            return
        ticket.state = "gone"
        hs.waiting_by_kind[ticket.kind] -= 1
        self._queue_event(hs, t, "ticket_walkout", ticket)

    # -- sessions --------------------------------------------------------------------

    def _schedule_session(self, hs: HallSim, t: float) -> None:
        session = session_at_or_after(hs.spans, t, self.kernel.offset_s)
        if session is not None:
            self.kernel.agenda.at(max(session.open_t, t), partial(self._open_session, hs, session))

    def _open_session(self, hs: HallSim, session: Session, t: float) -> None:
        if session.day != hs.day:
            self._new_day(hs, session.day)
        hs.session, hs.closing = session, False
        span = session.closing_t - t
        for w in hs.windows:
            if w.staffed and not w.held:
                self.kernel.agenda.at(t + self.rng.uniform(0, min(120.0, span / 4)), partial(self._open_window, hs, w))
        self.kernel.agenda.at(max(t, session.closing_t), partial(self._close_session, hs, session))

    def _new_day(self, hs: HallSim, day: int) -> None:
        hs.day = day
        hs.counters.clear()
        pool = self.rng.sample(hs.staff_pool, len(hs.staff_pool))
        staffed = set(self.rng.sample(range(len(hs.windows)), hs.staffed_count))
        capacity_by_kind: dict[str, float] = {}
        for index, w in enumerate(hs.windows):
            w.staffed = index in staffed and bool(pool)
            w.staff_id = pool.pop() if w.staffed else None
            w.logged_in, w.state = False, "closed"
            if w.staffed:
                capacity_by_kind[w.kind] = capacity_by_kind.get(w.kind, 0.0) + 1 / mean_service_s(w.kind)
        # Citizens are steered to the kinds of window on duty today.
        hs.kinds = sorted(capacity_by_kind)
        hs.kind_cum = list(itertools.accumulate(capacity_by_kind[k] for k in hs.kinds))

    def _close_session(self, hs: HallSim, session: Session, t: float) -> None:
        hs.closing = True
        for kind, (appointments, walk_ins) in hs.lines.items():
            for ticket in itertools.chain(appointments, walk_ins):
                self._send_home(hs, ticket, t)
            appointments.clear()
            walk_ins.clear()
            hs.waiting_by_kind[kind] = 0
        for w in hs.windows:
            while w.transfers:
                self._send_home(hs, w.transfers.popleft(), t)
            if w.state != "closed" or w.logged_in:
                self.kernel.agenda.at(
                    t + self.rng.uniform(1, 50), partial(self._shut_window, hs, w, session.last_of_day)
                )
        self._schedule_session(hs, session.close_t)

    def _send_home(self, hs: HallSim, ticket: Ticket, t: float) -> None:
        if ticket.state in ("waiting", "transferred"):
            ticket.state = "gone"
            self._queue_event(hs, t, "ticket_walkout", ticket)

    # -- windows -----------------------------------------------------------------------

    def _open_window(self, hs: HallSim, w: WindowSim, t: float) -> None:
        if hs.closing or w.held or w.state == "open":
            return
        if not w.logged_in:
            w.logged_in = True
            self._window_event(hs, w, t, "staff_login")
        w.state = "open"
        self._window_event(hs, w, t, "window_opened")
        self._schedule_call(hs, w, t + self.rng.uniform(1, 10))

    def _shut_window(self, hs: HallSim, w: WindowSim, last_of_day: bool, t: float) -> None:
        if last_of_day:
            if w.state != "closed":
                w.state = "closed"
                self._window_event(hs, w, t, "window_closed")
            if w.logged_in:
                w.logged_in = False
                self._window_event(hs, w, t, "staff_logout")
        elif w.state == "open":
            w.state = "paused"
            self._window_event(hs, w, t, "window_paused")

    def hold(self, hs: HallSim, w: WindowSim, t: float) -> None:
        """Pause a window for a scenario: at once if idle, after the current service otherwise."""
        w.held = True
        if w.state == "open" and not w.busy:
            w.state = "paused"
            self._window_event(hs, w, t, "window_paused")

    def release(self, hs: HallSim, w: WindowSim, t: float) -> None:
        w.held = False
        if w.staffed and not hs.closing and hs.session is not None and t < hs.session.last_t:
            self._open_window(hs, w, t)

    def _wake(self, hs: HallSim, kind: str, t: float) -> None:
        helper = None
        for w in hs.windows:
            if w.state != "open" or w.busy or w.call_pending:
                continue
            if w.kind == kind:
                self._schedule_call(hs, w, t + self.rng.uniform(2, 15))
                return
            if helper is None and w.kind == "综合受理":
                helper = w
        if helper is not None:
            self._schedule_call(hs, helper, t + self.rng.uniform(2, 15))

    def _schedule_call(self, hs: HallSim, w: WindowSim, t: float) -> None:
        w.call_pending = True
        self.kernel.agenda.at(t, partial(self._call, hs, w))

    def _next_ticket(self, hs: HallSim, w: WindowSim) -> Ticket | None:
        while w.transfers:
            ticket = w.transfers.popleft()
            if ticket.state == "transferred":
                return ticket
        kinds = [w.kind]
        if w.kind == "综合受理":
            # 无差别受理: a general window helps whichever line is longest once its own is empty.
            kinds += sorted((k for k in hs.kinds if k != w.kind), key=lambda k: -hs.waiting_by_kind[k])
        for kind in kinds:
            if kind not in hs.lines:
                continue
            for line in hs.lines[kind]:
                while line:
                    ticket = line.popleft()
                    if ticket.state == "waiting":
                        hs.waiting_by_kind[kind] -= 1
                        return ticket
        return None

    def _call(self, hs: HallSim, w: WindowSim, t: float) -> None:
        w.call_pending = False
        session = hs.session
        if w.state != "open" or w.busy or hs.closing or session is None:
            return
        if w.held:
            w.state = "paused"
            self._window_event(hs, w, t, "window_paused")
            return
        if t > session.last_t - 30:
            return
        ticket = self._next_ticket(hs, w)
        if ticket is None:
            return
        rng = self.rng
        w.busy, ticket.state = True, "called"
        self._queue_event(hs, t, "ticket_called", ticket, w)
        if rng.random() < P_NO_SHOW:
            self.kernel.agenda.at(min(t + rng.uniform(60, 180), session.last_t), partial(self._no_show, hs, w, ticket))
            return
        started = min(t + rng.uniform(15, 75), session.last_t)
        self.kernel.agenda.at(started, partial(self._start_service, hs, w, ticket))
        service = rng.lognormvariate(math.log(SERVICE_MEDIAN_S.get(w.kind, 480.0)), SERVICE_SIGMA) * self.service_scale
        done = min(started + min(max(service, 20.0), 3600.0), session.last_t)
        self.kernel.agenda.at(done, partial(self._finish_service, hs, w, ticket))

    def _no_show(self, hs: HallSim, w: WindowSim, ticket: Ticket, t: float) -> None:
        ticket.state = "gone"
        self._queue_event(hs, t, "ticket_no_show", ticket, w)
        self._free(hs, w, t)

    def _start_service(self, hs: HallSim, w: WindowSim, ticket: Ticket, t: float) -> None:
        self._queue_event(hs, t, "service_started", ticket, w)

    def _finish_service(self, hs: HallSim, w: WindowSim, ticket: Ticket, t: float) -> None:
        target = None
        if self.rng.random() < P_TRANSFER:
            others = [o for o in hs.windows if o is not w and o.state == "open" and not o.held]
            target = self.rng.choice(others) if others else None
        if target is not None:
            ticket.state = "transferred"
            target.transfers.append(ticket)
            self._queue_event(hs, t, "ticket_transferred", ticket, w, to_window_id=target.window_id)
            if not target.busy and not target.call_pending:
                self._schedule_call(hs, target, t + self.rng.uniform(5, 20))
        else:
            ticket.state = "done"
            self._queue_event(hs, t, "service_completed", ticket, w)
            hs.cases += 1
            case_no = f"{hs.hall.hall_id[1:]}-{self.kernel.emitter.run_id}-{hs.cases:05d}"
            staff_id = w.staff_id or ""
            served = Served(
                hs.hall.hall_id,
                hs.hall.city_code,
                hs.source,
                w.window_id,
                staff_id,
                ticket.item_id,
                ticket.dept_id,
                case_no,
            )
            self.on_completed(served, t)
        self._free(hs, w, t)

    def _free(self, hs: HallSim, w: WindowSim, t: float) -> None:
        w.busy = False
        if w.held and w.state == "open":
            w.state = "paused"
            self._window_event(hs, w, t, "window_paused")
        elif not w.call_pending:
            self._schedule_call(hs, w, t + self.rng.uniform(5, 30))

    # -- events ------------------------------------------------------------------------

    def _queue_event(
        self, hs: HallSim, t: float, kind: str, ticket: Ticket, w: WindowSim | None = None, **extra: str
    ) -> None:
        fields: dict[str, object] = {
            "type": kind,
            "hall_id": hs.hall.hall_id,
            "ticket_no": ticket.ticket_no,
            "item_id": ticket.item_id,
            "dept_id": ticket.dept_id,
            "appointment": ticket.appointment,
        }
        if w is not None:
            fields["window_id"] = w.window_id
            fields["staff_id"] = w.staff_id
        fields.update(extra)
        self.kernel.emitter.emit("queue", hs.source, t, fields)

    def _window_event(self, hs: HallSim, w: WindowSim, t: float, kind: str) -> None:
        fields = {"type": kind, "hall_id": hs.hall.hall_id, "window_id": w.window_id, "staff_id": w.staff_id}
        self.kernel.emitter.emit("window", hs.source, t, fields)

    # -- introspection -----------------------------------------------------------------

    def open_now(self, t: float) -> list[HallSim]:
        """Halls whose opening hours cover `t` on the hall clock."""
        return [hs for hs in self._order if hs.windows and is_open(hs.spans, t, self.kernel.offset_s)]

    def staff_window(self, staff_id: str) -> tuple[HallSim, WindowSim] | None:
        for hs in self._order:
            for w in hs.windows:
                if w.staff_id == staff_id:
                    return hs, w
        return None
