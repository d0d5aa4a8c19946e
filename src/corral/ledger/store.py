"""The ledger: budgets that concurrent agents on many hosts can never together exceed.

Every check-and-reserve is one transaction that first locks the rows of the budgets it touches
(SQLite: the database's writer lock, taken by ``BEGIN IMMEDIATE``; PostgreSQL: the budget rows,
locked by an upsert), then reads what is committed and held, and only then writes the hold.
Two agents racing for the last dollar therefore run one after the other, and the second sees
the first's hold.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from corral.ledger.amounts import shown, to_micro, unit_of
from corral.ledger.backends import Backend, Cursor, Row
from corral.ledger.clock import Clock, system_clock
from corral.ledger.errors import (
    ApprovalError,
    BudgetExceeded,
    LedgerError,
    LedgerUnavailable,
    ReservationClosed,
    ReservationNotFound,
)
from corral.ledger.model import (
    Approval,
    ApprovalState,
    Bucket,
    BucketUsage,
    LedgerVerdict,
    Limit,
    Outcome,
    Reservation,
    ReservationState,
    Subjects,
)
from corral.ledger.schema import LATEST, MIGRATIONS

T = TypeVar("T")

_RESERVATION_COLUMNS = (
    "id, state, charges, spent, buckets, created_at, expires_at, session, agent, account, "
    "idem_key, note"
)
_APPROVAL_COLUMNS = (
    "id, fingerprint, state, summary, detail, created_at, expires_at, decided_at, decided_by, "
    "reason, session, agent"
)
MAX_TTL = 30 * 86400.0


class Ledger:
    """Reservations, commits, usage reports and approvals over one backend.

    ``clock`` gives the time every window, expiry and record uses; tests pass a ManualClock.
    """

    def __init__(self, backend: Backend, *, clock: Clock = system_clock, retry_for: float = 15.0):
        self.backend = backend
        self.clock = clock
        self.retry_for = retry_for
        self._migrate()

    @property
    def where(self) -> str:
        return self.backend.where

    def close(self) -> None:
        self.backend.close()

    # --- transactions -------------------------------------------------------------------

    def _tx(self, work: Callable[[Cursor], T], *, single: bool = False) -> T:
        """Run ``work`` in one write transaction, retrying lock conflicts; errors fail closed.

        ``single``: ``work`` runs one statement, which is its own transaction (PostgreSQL's
        server-side functions), saving the BEGIN and COMMIT round trips.
        """
        deadline = time.monotonic() + self.retry_for
        delay = 0.0005
        while True:
            try:
                opened = self.backend.autocommit() if single else self.backend.transaction()
                with opened as cur:
                    return work(cur)
            except LedgerError:
                raise
            except Exception as exc:
                if not self.backend.retryable(exc) or time.monotonic() > deadline:
                    raise LedgerUnavailable(
                        f"ledger {self.where}: {type(exc).__name__}: {exc}"
                    ) from exc
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.05)

    def _migrate(self) -> None:
        def work(cur: Cursor) -> None:
            cur.run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            self.backend.migration_lock(cur)
            row = cur.one("SELECT MAX(version) FROM schema_version")
            current = int(row[0]) if row and row[0] is not None else 0
            if current > LATEST:
                raise LedgerUnavailable(
                    f"the ledger at {self.where} has schema version {current}, newer than this "
                    f"Corral knows ({LATEST}); upgrade Corral on this host"
                )
            for version, statements in MIGRATIONS:
                if version > current:
                    for statement in statements:
                        if isinstance(statement, tuple):
                            if statement[0] == self.backend.dialect:
                                cur.run(statement[1])
                        else:
                            cur.run(statement)
                    cur.run("INSERT INTO schema_version (version) VALUES (?)", (version,))

        self._tx(work)

    def schema_version(self) -> int:
        row = self._tx(lambda cur: cur.one("SELECT MAX(version) FROM schema_version"))
        return int(row[0]) if row and row[0] is not None else 0

    # --- reservations -------------------------------------------------------------------

    def reserve(
        self,
        charges: Mapping[str, Any],
        subjects: Subjects,
        limits: Sequence[Limit],
        *,
        ttl: float,
        idem_key: str | None = None,
        approved: bool = False,
        note: str = "",
    ) -> Outcome:
        """Check every limit and hold ``charges`` ({unit: amount}) in one atomic step.

        ``allow`` holds the amounts until ``commit``, ``release`` or ``ttl`` seconds pass.
        ``ask`` means a soft limit would be passed (``approved=True`` waives soft limits, never
        hard ones); ``deny`` a hard one. A repeated ``idem_key`` returns the first outcome's
        reservation instead of holding again.
        """
        amounts = _validated_charges(charges)
        ttl = _validated_ttl(ttl)
        now = self.clock()
        verdict = _per_action_check(amounts, limits, approved)
        if verdict is not None:
            return verdict
        buckets = _buckets_for(amounts, subjects, limits, now)

        reservation = Reservation(
            id=str(uuid.uuid4()),
            state="held",
            charges=amounts,
            created_at=now,
            expires_at=now + ttl,
            subjects=subjects,
            idem_key=idem_key,
            note=note,
        )
        in_server = self.backend.dialect == "postgresql"

        def work(cur: Cursor) -> Outcome:
            if in_server:
                return _reserve_in_server(cur, reservation, buckets, approved=approved, now=now)
            if idem_key is not None:
                existing = _reservation_by_key(cur, idem_key, now)
                if existing is not None:
                    return _replayed(existing)
            refusal = _check_buckets(cur, buckets, amounts, now, approved=approved, exclude=None)
            if refusal is not None:
                return refusal
            _insert_reservation(cur, reservation, buckets)
            for bucket in _rows(buckets):
                cur.run(
                    "INSERT INTO holds (reservation, key, wstart, amount, expires_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        reservation.id,
                        bucket.key,
                        bucket.wstart,
                        amounts[bucket.limit.unit],
                        reservation.expires_at,
                    ),
                )
            return Outcome("allow", "reserved", reservation)

        try:
            return self._tx(work, single=in_server)
        except LedgerUnavailable as exc:
            # Two requests with one key raced past the lookup: the loser reads the winner's.
            if idem_key is not None and self.backend.unique_violation(exc.__cause__ or exc):
                found = self._tx(lambda cur: _reservation_by_key(cur, idem_key, self.clock()))
                if found is not None:
                    return _replayed(found)
            raise

    def commit(self, reservation_id: str, actual: Mapping[str, Any] | None = None) -> Reservation:
        """Turn a hold into spending: the real amounts (default: what was reserved).

        Committing more than was reserved is checked against the hard limits again. Committing a
        committed reservation returns it unchanged (a retried commit spends once).
        """
        now = self.clock()

        in_server = self.backend.dialect == "postgresql"
        spent_json = None if actual is None else json.dumps(_validated_charges(actual))

        if in_server:
            row = self._tx(
                lambda cur: cur.one(
                    "SELECT corral_commit(?, ?, ?)", (reservation_id, spent_json, now)
                ),
                single=True,
            )
            result = json.loads(row[0]) if row else ["missing"]
            if result[0] in ("done", "committed"):
                return _reservation_from_row(tuple(result[1:]), now)[0]
            # 'more' (a larger real amount) and every refusal take the portable path below,
            # which re-checks the limits or explains the refusal.

        def work(cur: Cursor) -> Reservation:
            reservation, buckets = _load_open(cur, reservation_id, now)
            if reservation.state == "committed":
                return reservation
            spent = dict(reservation.charges)
            if actual is not None:
                spent = _validated_charges(actual)
                unknown = set(spent) - set(reservation.charges)
                if unknown:
                    raise BudgetExceeded(
                        f"reservation {reservation_id} holds no {', '.join(sorted(unknown))}; "
                        "reserve those units first"
                    )
            grown = {u for u in reservation.charges if spent.get(u, 0) > reservation.charges[u]}
            if grown:
                # Checked as if reserving the whole real amount, without this reservation's hold.
                refusal = _check_buckets(
                    cur,
                    [b for b in buckets if b.limit.unit in grown],
                    spent,
                    now,
                    approved=True,
                    exclude=reservation_id,
                )
                if refusal is not None:
                    raise BudgetExceeded(f"committing more than was reserved: {refusal.reason}")
            for bucket in _rows(buckets):
                cur.run(
                    "UPDATE buckets SET spent = spent + ? WHERE key = ? AND wstart = ?",
                    (spent.get(bucket.limit.unit, 0), bucket.key, bucket.wstart),
                )
            cur.run("DELETE FROM holds WHERE reservation = ?", (reservation_id,))
            cur.run(
                "UPDATE reservations SET state = 'committed', spent = ?, settled_at = ? "
                "WHERE id = ?",
                (json.dumps(spent), now, reservation_id),
            )
            reservation.state, reservation.spent = "committed", spent
            return reservation

        return self._tx(work)

    def release(self, reservation_id: str) -> Reservation:
        """Give a hold back unspent. Releasing twice, or after expiry, is harmless."""
        now = self.clock()

        def work(cur: Cursor) -> Reservation:
            reservation = _get_reservation(cur, reservation_id, now)
            if reservation.state == "committed":
                raise ReservationClosed(f"reservation {reservation_id} is already committed")
            if reservation.state == "held":
                reservation.state = "released"
            cur.run("DELETE FROM holds WHERE reservation = ?", (reservation_id,))
            cur.run(
                "UPDATE reservations SET state = ?, settled_at = ? WHERE id = ?",
                (reservation.state, now, reservation_id),
            )
            return reservation

        return self._tx(work)

    def get(self, reservation_id: str) -> Reservation:
        now = self.clock()
        return self._tx(lambda cur: _get_reservation(cur, reservation_id, now))

    def record_usage(
        self,
        unit: str,
        amount: Any,
        subjects: Subjects,
        limits: Sequence[Limit],
        *,
        idem_key: str | None = None,
        note: str = "",
    ) -> Outcome:
        """Book usage that already happened (GPU-hours a supervised process used, say).

        It is recorded even over a limit (it cannot be undone); the outcome says ``deny`` when a
        hard limit is now passed, so the reporter can stop the work.
        """
        amounts = _validated_charges({unit: amount})
        now = self.clock()
        buckets = _buckets_for(amounts, subjects, limits, now)

        def work(cur: Cursor) -> Outcome:
            if idem_key is not None:
                existing = _reservation_by_key(cur, idem_key, now)
                if existing is not None:
                    return Outcome("allow", "usage already recorded", existing, replayed=True)
            refusal = _check_buckets(cur, buckets, amounts, now, approved=True, exclude=None)
            record = Reservation(
                id=str(uuid.uuid4()),
                state="committed",
                charges=amounts,
                created_at=now,
                expires_at=now,
                subjects=subjects,
                idem_key=idem_key,
                spent=amounts,
                note=note or "usage report",
            )
            _insert_reservation(cur, record, buckets)
            for bucket in _rows(buckets):
                cur.run(
                    "UPDATE buckets SET spent = spent + ? WHERE key = ? AND wstart = ?",
                    (amounts[bucket.limit.unit], bucket.key, bucket.wstart),
                )
            if refusal is not None:
                return Outcome(
                    "deny", refusal.reason, record, refusal.limit, refusal.used, refusal.amount
                )
            return Outcome("allow", "usage recorded", record)

        return self._tx(work)

    def usage(self, *, current_only: bool = True) -> list[BucketUsage]:
        """Committed and live held amounts per budget bucket (current windows by default)."""
        now = self.clock()

        def work(cur: Cursor) -> list[BucketUsage]:
            rows = cur.all(
                "SELECT b.key, b.wstart, b.spent, COALESCE(SUM(h.amount), 0) FROM buckets b "
                "LEFT JOIN holds h ON h.key = b.key AND h.wstart = b.wstart AND h.expires_at > ? "
                "GROUP BY b.key, b.wstart, b.spent ORDER BY b.key, b.wstart",
                (now,),
            )
            out = []
            for key, wstart, spent, held in rows:
                scope, subject, unit, window = json.loads(key)
                usage = BucketUsage(
                    scope, subject, unit, window, int(wstart), int(spent), int(held)
                )
                if current_only and Bucket.for_limit(
                    Limit(scope, window, unit), Subjects(), now
                ).wstart != int(wstart):
                    continue
                out.append(usage)
            return out

        return self._tx(work)

    def reservations(self, *, state: ReservationState | None = None) -> list[Reservation]:
        now = self.clock()

        def work(cur: Cursor) -> list[Reservation]:
            rows = cur.all(f"SELECT {_RESERVATION_COLUMNS} FROM reservations ORDER BY created_at")
            found = [_reservation_from_row(r, now)[0] for r in rows]
            return [r for r in found if state is None or r.state == state]

        return self._tx(work)

    def purge(self) -> int:
        """Mark expired holds and approvals as expired and drop the holds; returns how many."""
        now = self.clock()

        def work(cur: Cursor) -> int:
            count = cur.run(
                "UPDATE reservations SET state = 'expired', settled_at = ? "
                "WHERE state = 'held' AND expires_at <= ?",
                (now, now),
            )
            cur.run("DELETE FROM holds WHERE expires_at <= ?", (now,))
            cur.run(
                "UPDATE approvals SET state = 'expired' "
                "WHERE state IN ('pending', 'approved', 'denied') AND expires_at <= ?",
                (now,),
            )
            return count

        return self._tx(work)

    # --- approvals ----------------------------------------------------------------------

    def request_approval(
        self,
        fingerprint: str,
        summary: str,
        *,
        ttl: float,
        detail: Mapping[str, Any] | None = None,
        subjects: Subjects | None = None,
    ) -> Approval:
        """The open approval for this action, or a new pending one that expires after ``ttl``."""
        ttl = _validated_ttl(ttl)
        now = self.clock()
        who = subjects or Subjects()

        def work(cur: Cursor) -> Approval:
            current = _latest_approval(cur, fingerprint, now)
            if current is not None and current.state in ("pending", "approved", "denied"):
                return current
            approval = Approval(
                id=_approval_id(),
                fingerprint=fingerprint,
                state="pending",
                created_at=now,
                expires_at=now + ttl,
                summary=summary[:500],
                detail=dict(detail or {}),
                session=who.session,
                agent=who.agent,
            )
            cur.run(
                f"INSERT INTO approvals ({_APPROVAL_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    approval.id,
                    fingerprint,
                    "pending",
                    approval.summary,
                    json.dumps(approval.detail, default=str),
                    now,
                    approval.expires_at,
                    None,
                    None,
                    None,
                    approval.session,
                    approval.agent,
                ),
            )
            return approval

        return self._tx(work)

    def approval_for(self, fingerprint: str) -> Approval | None:
        """The latest approval of this action (its state as of now), if any."""
        now = self.clock()
        return self._tx(lambda cur: _latest_approval(cur, fingerprint, now))

    def get_approval(self, approval_id: str) -> Approval:
        now = self.clock()

        return self._tx(lambda cur: _approval_by_id(cur, approval_id, now))

    def decide(
        self, approval_id: str, *, approve: bool, by: str, reason: str, ttl: float
    ) -> Approval:
        """Record a person's answer. An approval is then good for one retry within ``ttl``."""
        if not by.strip() or not reason.strip():
            raise ApprovalError("an approval decision needs who decided and why")
        ttl = _validated_ttl(ttl)
        now = self.clock()

        def work(cur: Cursor) -> Approval:
            approval = _approval_by_id(cur, approval_id, now)
            if approval.state != "pending":
                raise ApprovalError(f"approval {approval_id} is {approval.state}, not pending")
            state: ApprovalState = "approved" if approve else "denied"
            changed = cur.run(
                "UPDATE approvals SET state = ?, decided_at = ?, decided_by = ?, reason = ?, "
                "expires_at = ? WHERE id = ? AND state = 'pending'",
                (state, now, by[:200], reason[:2000], now + ttl, approval_id),
            )
            if changed != 1:
                raise ApprovalError(f"approval {approval_id} was decided by someone else meanwhile")
            approval.state, approval.decided_at = state, now
            approval.decided_by, approval.reason, approval.expires_at = by, reason, now + ttl
            return approval

        return self._tx(work)

    def consume(self, approval_id: str) -> bool:
        """Use an approved approval once; False when it was used, expired or never approved."""
        now = self.clock()
        return self._tx(
            lambda cur: (
                cur.run(
                    "UPDATE approvals SET state = 'used' WHERE id = ? AND state = 'approved' "
                    "AND expires_at > ?",
                    (approval_id, now),
                )
                == 1
            )
        )

    def approvals(self, *, states: Iterable[ApprovalState] | None = None) -> list[Approval]:
        now = self.clock()
        wanted = set(states) if states is not None else None

        def work(cur: Cursor) -> list[Approval]:
            rows = cur.all(f"SELECT {_APPROVAL_COLUMNS} FROM approvals ORDER BY created_at")
            found = [_approval_from_row(r, now) for r in rows]
            return [a for a in found if wanted is None or a.state in wanted]

        return self._tx(work)


# --- helpers (module level: they run inside a transaction and take its cursor) --------------


def _validated_charges(charges: Mapping[str, Any]) -> dict[str, int]:
    if not charges:
        raise LedgerError("a reservation needs at least one amount")
    out: dict[str, int] = {}
    for unit, amount in charges.items():
        out[unit_of(unit)] = to_micro(amount, f"amount in {unit}")
    return out


def _replayed(existing: Reservation) -> Outcome:
    return Outcome("allow", "the same request was already reserved", existing, replayed=True)


def _reserve_in_server(
    cur: Cursor, reservation: Reservation, buckets: list[Bucket], *, approved: bool, now: float
) -> Outcome:
    """The check-and-hold of :meth:`Ledger.reserve` as one call to ``corral_reserve``."""
    amounts = reservation.charges
    row = cur.one(
        "SELECT verdict, idx, used, existing FROM corral_reserve("
        "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            reservation.id,
            reservation.idem_key,
            json.dumps(amounts),
            _buckets_json(buckets),
            reservation.created_at,
            reservation.expires_at,
            reservation.subjects.session,
            reservation.subjects.agent,
            reservation.subjects.account,
            reservation.note,
            [b.key for b in buckets],
            [b.wstart for b in buckets],
            [amounts[b.limit.unit] for b in buckets],
            [b.limit.hard for b in buckets],
            [b.limit.soft for b in buckets],
            approved,
            now,
        ),
    )
    if row is None:
        raise LedgerUnavailable("corral_reserve returned nothing")
    verdict, index, used, existing = row
    if verdict == "replay":
        return _replayed(_get_reservation(cur, existing, now))
    if verdict in ("deny", "ask"):
        bucket = buckets[int(index) - 1]
        return _refusal(verdict, bucket.limit, int(used), amounts[bucket.limit.unit])
    return Outcome("allow", "reserved", reservation)


def _validated_ttl(ttl: float) -> float:
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0 < ttl <= MAX_TTL:
        raise LedgerError(f"ttl must be between 0 and {MAX_TTL:g} seconds, not {ttl!r}")
    return float(ttl)


def _per_action_check(
    amounts: dict[str, int], limits: Sequence[Limit], approved: bool
) -> Outcome | None:
    for limit in limits:
        if limit.window != "action" or limit.unit not in amounts:
            continue
        amount = amounts[limit.unit]
        verdict = _over(limit, 0, amount, approved)
        if verdict is not None:
            return _refusal(verdict, limit, 0, amount)
    return None


def _over(limit: Limit, used: int, amount: int, approved: bool) -> LedgerVerdict | None:
    if limit.hard is not None and used + amount > limit.hard:
        return "deny"
    if limit.soft is not None and used + amount > limit.soft and not approved:
        return "ask"
    return None


def _refusal(verdict: LedgerVerdict, limit: Limit, used: int, amount: int) -> Outcome:
    edge = limit.hard if verdict == "deny" else limit.soft
    assert edge is not None
    word = "hard" if verdict == "deny" else "soft"
    reason = (
        f"{shown(amount, limit.unit)} would bring the {limit.label} to "
        f"{shown(used + amount, limit.unit)}, over its {word} limit of {shown(edge, limit.unit)}"
    )
    if limit.window != "action":
        reason += f" ({shown(used, limit.unit)} already used or held)"
    return Outcome(verdict, reason, None, limit, used, amount)


def _buckets_for(
    amounts: dict[str, int], subjects: Subjects, limits: Sequence[Limit], now: float
) -> list[Bucket]:
    """One entry per applicable windowed limit; two limits on the same scope, unit and window
    (a hard and a soft one written separately) share one row."""
    found = [
        Bucket.for_limit(limit, subjects, now)
        for limit in limits
        if limit.window != "action" and limit.unit in amounts
    ]
    # A fixed lock order: two transactions never wait on each other's rows in a cycle.
    return sorted(found, key=lambda b: (b.key, b.wstart))


def _rows(buckets: list[Bucket]) -> list[Bucket]:
    """The distinct rows among ``buckets`` (first limit of each), in lock order."""
    seen: dict[tuple[str, int], Bucket] = {}
    for bucket in buckets:
        seen.setdefault((bucket.key, bucket.wstart), bucket)
    return list(seen.values())


def _check_buckets(
    cur: Cursor,
    buckets: list[Bucket],
    amounts: dict[str, int],
    now: float,
    *,
    approved: bool,
    exclude: str | None,
) -> Outcome | None:
    locked: dict[tuple[str, int], int] = {}
    asked: Outcome | None = None
    for bucket in buckets:
        where = (bucket.key, bucket.wstart)
        if where not in locked:
            row = cur.one(
                "INSERT INTO buckets (key, wstart, spent) VALUES (?, ?, 0) "
                "ON CONFLICT (key, wstart) DO UPDATE SET spent = buckets.spent RETURNING spent",
                where,
            )
            locked[where] = int(row[0]) if row else 0
    for bucket in buckets:
        spent = locked[(bucket.key, bucket.wstart)]
        held_row = cur.one(
            "SELECT COALESCE(SUM(amount), 0) FROM holds WHERE key = ? AND wstart = ? "
            "AND expires_at > ? AND reservation <> ?",
            (bucket.key, bucket.wstart, now, exclude or ""),
        )
        used = spent + int(held_row[0] if held_row else 0)
        amount = amounts.get(bucket.limit.unit, 0)
        verdict = _over(bucket.limit, used, amount, approved)
        if verdict == "deny":
            return _refusal(verdict, bucket.limit, used, amount)
        if verdict == "ask" and asked is None:
            asked = _refusal(verdict, bucket.limit, used, amount)  # a hard limit still wins
    return asked


def _buckets_json(buckets: list[Bucket]) -> str:
    return json.dumps(
        [
            [
                b.key,
                b.wstart,
                b.limit.scope,
                b.limit.window,
                b.limit.unit,
                b.limit.hard,
                b.limit.soft,
                b.subject,
            ]
            for b in buckets
        ]
    )


def _insert_reservation(cur: Cursor, reservation: Reservation, buckets: list[Bucket]) -> None:
    cur.run(
        f"INSERT INTO reservations ({_RESERVATION_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            reservation.id,
            reservation.state,
            json.dumps(reservation.charges),
            None if reservation.spent is None else json.dumps(reservation.spent),
            _buckets_json(buckets),
            reservation.created_at,
            reservation.expires_at,
            reservation.subjects.session,
            reservation.subjects.agent,
            reservation.subjects.account,
            reservation.idem_key,
            reservation.note,
        ),
    )


def _reservation_from_row(row: Row, now: float) -> tuple[Reservation, list[Bucket]]:
    (rid, state, charges, spent, buckets, created, expires, session, agent, account, key, note) = (
        row
    )
    if state == "held" and float(expires) <= now:
        state = "expired"  # past its expiry a hold no longer counts, swept or not
    reservation = Reservation(
        id=rid,
        state=state,
        charges={u: int(a) for u, a in json.loads(charges).items()},
        created_at=float(created),
        expires_at=float(expires),
        subjects=Subjects(session, agent, account),
        idem_key=key,
        spent=None if spent is None else {u: int(a) for u, a in json.loads(spent).items()},
        note=note or "",
    )
    parsed = [
        Bucket(k, int(w), Limit(scope, window, unit, hard, soft), subject)
        for k, w, scope, window, unit, hard, soft, subject in json.loads(buckets)
    ]
    return reservation, parsed


def _get_reservation(cur: Cursor, reservation_id: str, now: float) -> Reservation:
    row = cur.one(
        f"SELECT {_RESERVATION_COLUMNS} FROM reservations WHERE id = ?", (reservation_id,)
    )
    if row is None:
        raise ReservationNotFound(f"no reservation {reservation_id!r}")
    return _reservation_from_row(row, now)[0]


def _load_open(cur: Cursor, reservation_id: str, now: float) -> tuple[Reservation, list[Bucket]]:
    row = cur.one(
        f"SELECT {_RESERVATION_COLUMNS} FROM reservations WHERE id = ?", (reservation_id,)
    )
    if row is None:
        raise ReservationNotFound(f"no reservation {reservation_id!r}")
    reservation, buckets = _reservation_from_row(row, now)
    if reservation.state in ("released", "expired"):
        raise ReservationClosed(
            f"reservation {reservation_id} is {reservation.state}: it no longer holds budget; "
            "reserve again"
        )
    return reservation, buckets


def _reservation_by_key(cur: Cursor, idem_key: str, now: float) -> Reservation | None:
    row = cur.one(
        f"SELECT {_RESERVATION_COLUMNS} FROM reservations WHERE idem_key = ?", (idem_key,)
    )
    return None if row is None else _reservation_from_row(row, now)[0]


def _approval_by_id(cur: Cursor, approval_id: str, now: float) -> Approval:
    row = cur.one(f"SELECT {_APPROVAL_COLUMNS} FROM approvals WHERE id = ?", (approval_id,))
    if row is None:
        raise ApprovalError(f"no approval {approval_id!r}; 'corral approvals list' shows them")
    return _approval_from_row(row, now)


def _approval_from_row(row: Row, now: float) -> Approval:
    (
        aid,
        fingerprint,
        state,
        summary,
        detail,
        created,
        expires,
        decided_at,
        decided_by,
        reason,
        session,
        agent,
    ) = row
    if state in ("pending", "approved", "denied") and float(expires) <= now:
        state = "expired"
    return Approval(
        id=aid,
        fingerprint=fingerprint,
        state=state,
        created_at=float(created),
        expires_at=float(expires),
        summary=summary,
        detail=json.loads(detail),
        session=session,
        agent=agent,
        decided_at=None if decided_at is None else float(decided_at),
        decided_by=decided_by,
        reason=reason,
    )


def _latest_approval(cur: Cursor, fingerprint: str, now: float) -> Approval | None:
    row = cur.one(
        f"SELECT {_APPROVAL_COLUMNS} FROM approvals WHERE fingerprint = ? "
        "ORDER BY created_at DESC LIMIT 1",
        (fingerprint,),
    )
    return None if row is None else _approval_from_row(row, now)


def _approval_id() -> str:
    """Short enough to type in ``corral approvals approve ID``; random enough not to guess."""
    return "ap-" + uuid.uuid4().hex[:12]
