"""Reserve and commit as PostgreSQL functions: one round trip each while the budget is locked.

The budget row lock is held from the first statement to COMMIT, so every round trip made while
holding it is time every other agent on that budget waits. The functions do exactly what the
portable path in :mod:`corral.ledger.store` does, statement for statement; the same test suite
runs against both. Each statement in a (volatile) PL/pgSQL function reads a fresh snapshot, so
the holds are summed after the lock is taken, as they must be.
"""

from __future__ import annotations

RESERVE = """
CREATE OR REPLACE FUNCTION corral_reserve(
    p_id text, p_idem text, p_charges text, p_buckets text, p_created float8, p_expires float8,
    p_session text, p_agent text, p_account text, p_note text,
    p_keys text[], p_wstarts bigint[], p_amounts bigint[], p_hard bigint[], p_soft bigint[],
    p_approved boolean, p_now float8)
RETURNS TABLE (verdict text, idx integer, used bigint, existing text)
LANGUAGE plpgsql AS $$
DECLARE
    n integer := coalesce(array_length(p_keys, 1), 0);
    v_spent bigint[] := '{}';
    s bigint;
    h bigint;
    u bigint;
BEGIN
    IF p_idem IS NOT NULL THEN
        SELECT r.id INTO existing FROM reservations r WHERE r.idem_key = p_idem;
        IF FOUND THEN
            verdict := 'replay'; RETURN NEXT; RETURN;
        END IF;
    END IF;
    FOR i IN 1..n LOOP
        INSERT INTO buckets AS b (key, wstart, spent) VALUES (p_keys[i], p_wstarts[i], 0)
            ON CONFLICT (key, wstart) DO UPDATE SET spent = b.spent RETURNING b.spent INTO s;
        v_spent := v_spent || s;
    END LOOP;
    FOR i IN 1..n LOOP
        SELECT coalesce(sum(amount), 0) INTO h FROM holds
            WHERE key = p_keys[i] AND wstart = p_wstarts[i] AND expires_at > p_now;
        u := v_spent[i] + h;
        IF p_hard[i] IS NOT NULL AND u + p_amounts[i] > p_hard[i] THEN
            verdict := 'deny'; idx := i; used := u; RETURN NEXT; RETURN;
        END IF;
        IF p_soft[i] IS NOT NULL AND u + p_amounts[i] > p_soft[i] AND NOT p_approved
           AND idx IS NULL THEN
            idx := i; used := u;  -- asks, unless a hard limit further on denies
        END IF;
    END LOOP;
    IF idx IS NOT NULL THEN
        verdict := 'ask'; RETURN NEXT; RETURN;
    END IF;
    INSERT INTO reservations (id, state, charges, spent, buckets, created_at, expires_at,
                              session, agent, account, idem_key, note)
        VALUES (p_id, 'held', p_charges, NULL, p_buckets, p_created, p_expires,
                p_session, p_agent, p_account, p_idem, p_note);
    FOR i IN 1..n LOOP
        INSERT INTO holds (reservation, key, wstart, amount, expires_at)
            VALUES (p_id, p_keys[i], p_wstarts[i], p_amounts[i], p_expires)
            ON CONFLICT DO NOTHING;
    END LOOP;
    verdict := 'allow'; RETURN NEXT;
END;
$$
"""

# Commits the reserved amounts (p_spent NULL) or real amounts no larger than reserved and returns
# the reservation as a JSON array; anything else ('more', 'closed', 'missing') goes back to the
# portable path, which re-checks the limits or explains the refusal.
COMMIT = """
CREATE OR REPLACE FUNCTION corral_commit(p_id text, p_spent text, p_now float8)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    v_spent jsonb;
    elem record;
BEGIN
    SELECT * INTO r FROM reservations WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN RETURN json_build_array('missing')::text; END IF;
    IF r.state = 'committed' THEN
        RETURN json_build_array('committed', r.id, r.state, r.charges, r.spent, r.buckets,
            r.created_at, r.expires_at, r.session, r.agent, r.account, r.idem_key, r.note)::text;
    END IF;
    IF r.state <> 'held' OR r.expires_at <= p_now THEN
        RETURN json_build_array('closed')::text;
    END IF;
    v_spent := coalesce(p_spent, r.charges)::jsonb;
    IF EXISTS (SELECT 1 FROM jsonb_each_text(v_spent) e
               WHERE (r.charges::jsonb -> e.key) IS NULL
                  OR e.value::bigint > (r.charges::jsonb ->> e.key)::bigint) THEN
        RETURN json_build_array('more')::text;
    END IF;
    FOR elem IN
        SELECT DISTINCT b ->> 0 AS key, (b ->> 1)::bigint AS wstart, b ->> 4 AS unit
        FROM jsonb_array_elements(r.buckets::jsonb) b ORDER BY 1, 2
    LOOP
        UPDATE buckets SET spent = buckets.spent + coalesce((v_spent ->> elem.unit)::bigint, 0)
            WHERE key = elem.key AND wstart = elem.wstart;
    END LOOP;
    DELETE FROM holds WHERE reservation = p_id;
    UPDATE reservations SET state = 'committed', spent = v_spent::text, settled_at = p_now
        WHERE id = p_id RETURNING * INTO r;
    RETURN json_build_array('done', r.id, r.state, r.charges, r.spent, r.buckets,
        r.created_at, r.expires_at, r.session, r.agent, r.account, r.idem_key, r.note)::text;
END;
$$
"""
