"""Deadline rules: a bad-review case whose awaited step was not done by its deadline.

Each case step carries the working days allowed for the next one; the worker
stored that as deadline_at on the Chinese calendar (streams/workdays.py).
Evaluated on the timer from `case_steps`, one observation per overdue case;
a case that moves on or closes drops out of the round and resolves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from streams.alerts.model import Observation
from streams.indicators.service import Reader
from streams.rules.evaluators import BuildContext, ScheduledCheck
from streams.rules.event_configs import DeadlineRuleConfig

#: Cases whose steps all lie further back than this are not looked at.
LOOKBACK = timedelta(days=92)


@dataclass(frozen=True)
class DeadlineCheck:
    rule_id: str
    awaited_step: str | None  # e.g. case_rectified; None: any next step
    grace_s: float = 0.0
    city: int | None = None

    @classmethod
    def from_config(cls, config: DeadlineRuleConfig, context: BuildContext) -> ScheduledCheck:
        """Evaluated every minute; a city scope narrows the query to that city's cases."""
        city = int(config.scope.value) if config.scope.kind == "city" else None
        return ScheduledCheck(cls(config.id, config.step, float(config.grace), city), 60.0)

    async def evaluate(self, reader: Reader, now: datetime) -> list[Observation]:
        awaited = "1" if self.awaited_step is None else "countIf(type = {awaited:String}) = 0"
        city = " AND city_code = {city:UInt32}" if self.city else ""
        rows = await reader.query(
            f"""
            SELECT case_id, city_code, argMax(dept_id, at) AS dept, argMax(type, at) AS last_step,
                   argMax(deadline_at, at) AS deadline
            FROM case_steps
            WHERE at >= {{since:DateTime64(3, 'UTC')}} AND at < {{now:DateTime64(3, 'UTC')}}{city}
            GROUP BY case_id, city_code
            HAVING countIf(type = 'case_closed') = 0 AND {awaited}
               AND deadline IS NOT NULL AND deadline + toIntervalSecond({{grace:UInt32}}) < {{now:DateTime64(3, 'UTC')}}
            """,
            {
                "since": now - LOOKBACK,
                "now": now,
                "awaited": self.awaited_step or "",
                "city": self.city or 0,
                "grace": int(self.grace_s),
            },
        )
        out = []
        for case_id, city_code, dept, last_step, deadline in rows:
            deadline = deadline if deadline.tzinfo else deadline.replace(tzinfo=UTC)  # chDB may drop the zone
            overdue_s = (now - deadline).total_seconds()
            out.append(
                Observation(
                    self.rule_id,
                    {"city": str(city_code), "case": case_id},
                    now,
                    True,
                    False,
                    overdue_s,
                    {"case_id": case_id, "dept": dept, "last_step": last_step, "deadline": deadline.isoformat()},
                    {"dept": dept},
                )
            )
        return out
