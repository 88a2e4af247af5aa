"""Lua scripts of the recorder and the pipelines that send a `WriteBatch` in one round trip."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis
import redis.asyncio
from redis.exceptions import NoScriptError

from .clock import ServerClock
from .connection import is_cluster
from .keys import KeySchema, site_key_part
from .plan import ActiveUpdate, EventPlanner, WriteBatch


@dataclass(frozen=True)
class LuaScript:
    """A Lua script from the package's lua/ folder, addressed by its SHA-1 for EVALSHA."""

    name: str
    source: str
    sha: str

    @classmethod
    def load(cls, name: str, *, prepend: tuple[str, ...] = ()) -> LuaScript:
        """Read lua/<name>.lua with the lua/ files named in `prepend` in front of it, in order.

        The script is the joined text, so SCRIPT LOAD, EVALSHA and `sha` all cover the
        prepended files too.
        """
        folder = resources.files(__package__).joinpath("lua")
        parts = [folder.joinpath(f"{part}.lua").read_text("utf-8") for part in (*prepend, name)]
        source = "\n".join(parts)
        return cls(name, source, hashlib.sha1(source.encode("utf-8")).hexdigest())


APPLY_COUNTS = LuaScript.load("apply_counts")
UPDATE_ACTIVE = LuaScript.load("update_active", prepend=("active_common",))
UPDATE_ACTIVE_MANY = LuaScript.load("update_active_many", prepend=("active_common",))


@dataclass(frozen=True)
class ScriptCall:
    script: LuaScript
    keys: list[str]
    args: list[Any]


def hash_tag(key: str) -> str:
    """Return the part of `key` that Redis Cluster hashes (the text between braces)."""
    start = key.find("{")
    end = key.find("}", start + 1)
    if start == -1 or end == -1 or end == start + 1:
        return key
    return key[start + 1 : end]


MARKER_SECONDS = 300
# Active-set updates per update_active_many.lua call: about a millisecond of Redis time, so
# a large flush never keeps Redis busy long enough to delay other clients.
ACTIVE_CHUNK = 500
# Expired sessions trimmed per update_active_many.lua call, at most.
MAX_TRIM_PER_CALL = 1000


def batch_calls(planner: EventPlanner, batch: WriteBatch, now: float,
                trim_limit: int = 10, write_id: str | None = None) -> list[ScriptCall]:
    """Return the script calls that apply `batch`: one per hash slot group, and for the
    active set one per shard (per `ACTIVE_CHUNK` updates) or one for a single update.

    With a `write_id`, each group first sets a marker key and is skipped if the marker
    exists, so sending the same calls again after a lost reply counts nothing twice. The
    active-set updates need no marker: applying one again leaves the same state.
    """
    groups: dict[str, tuple[list[str], list[Any]]] = {}
    for key, update in batch.updates.items():
        tag = hash_tag(key)
        group = groups.get(tag)
        if group is None:
            if write_id is None:
                group = groups[tag] = ([], [0])
            else:
                marker = planner.schema.write_marker(tag, write_id)
                group = groups[tag] = ([marker], [MARKER_SECONDS])
        keys, args = group
        keys.append(key)
        args.extend((update.kind, update.expire_at, update.cap, len(update.increments)))
        for member, amount in update.increments.items():
            args.extend((member, amount))
    calls = [ScriptCall(APPLY_COUNTS, keys, args) for keys, args in groups.values()]
    by_shard: dict[int, list[ActiveUpdate]] = {}
    for active in batch.active:
        by_shard.setdefault(active.shard, []).append(active)
    for shard, updates in by_shard.items():
        if len(updates) == 1:
            keys, args = planner.active_args(updates[0], now, trim_limit)
            calls.append(ScriptCall(UPDATE_ACTIVE, keys, args))
            continue
        for start in range(0, len(updates), ACTIVE_CHUNK):
            chunk = updates[start:start + ACTIVE_CHUNK]
            calls.append(_active_many_call(planner.schema, shard, chunk, now, trim_limit))
    return calls


def _active_many_call(schema: KeySchema, shard: int, updates: list[ActiveUpdate], now: float,
                      trim_limit: int) -> ScriptCall:
    """Return the update_active_many.lua call for `updates`, all of shard `shard`."""
    keys = [schema.active_expiry(shard), schema.active_site_of(shard), schema.active_sites(shard)]
    parts: dict[str, str] = {}
    part_of: dict[str, str] = {}
    operations: list[Any] = []
    for update in updates:
        if update.op == "touch":
            part = part_of.get(update.site)
            if part is None:
                part = part_of[update.site] = site_key_part(update.site)
                parts.setdefault(part, update.site)
            operations += ("touch", update.session_hash, repr(update.expires_at), part)
        else:
            operations += (update.op, update.session_hash, "", "")
    trim = min(trim_limit * len(updates), MAX_TRIM_PER_CALL)
    args: list[Any] = [repr(now), schema.active_site_base(shard), trim, len(parts)]
    for part, name in parts.items():
        args += (part, name)
    args += operations
    return ScriptCall(UPDATE_ACTIVE_MANY, keys, args)


def _queue(pipe: Any, calls: list[ScriptCall]) -> None:
    for call in calls:
        pipe.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)


def _raise_first_error(results: list[Any], calls: list[ScriptCall]) -> list[ScriptCall]:
    """Return the calls that failed with NOSCRIPT; raise any other error."""
    missing = []
    for result, call in zip(results, calls, strict=True):
        if isinstance(result, NoScriptError):
            missing.append(call)
        elif isinstance(result, Exception):
            raise result
    return missing


def run_calls(client: redis.Redis, calls: list[ScriptCall], clock: ServerClock | None) -> None:
    """Send `calls` in one pipeline (plus TIME to keep `clock` in sync); load scripts if needed.

    A call that failed with NOSCRIPT did not run, so it is safe to send again once loaded.
    Redis Cluster pipelines cannot carry TIME, so there the clock is synced on its own
    round trip once a minute (`ServerClock.needs_sync`).
    """
    if clock is not None and is_cluster(client):
        clock = None
    pipe = client.pipeline(transaction=False)
    if clock is not None:
        pipe.time()
    _queue(pipe, calls)
    sent_at = clock.local() if clock is not None else 0.0
    results = pipe.execute(raise_on_error=False)
    if clock is not None:
        clock.observe(results[0], sent_at, clock.local())
        results = results[1:]
    missing = _raise_first_error(results, calls)
    if missing:
        for script in {call.script for call in missing}:
            client.script_load(script.source)
        retry = client.pipeline(transaction=False)
        _queue(retry, missing)
        _raise_first_error(retry.execute(raise_on_error=False), missing)


async def run_calls_async(client: redis.asyncio.Redis, calls: list[ScriptCall],
                          clock: ServerClock | None) -> None:
    """Asynchronous twin of `run_calls`."""
    if clock is not None and is_cluster(client):
        clock = None
    pipe = client.pipeline(transaction=False)
    if clock is not None:
        pipe.time()
    _queue(pipe, calls)
    sent_at = clock.local() if clock is not None else 0.0
    results = await pipe.execute(raise_on_error=False)
    if clock is not None:
        clock.observe(results[0], sent_at, clock.local())
        results = results[1:]
    missing = _raise_first_error(results, calls)
    if missing:
        for script in {call.script for call in missing}:
            await client.script_load(script.source)
        retry = client.pipeline(transaction=False)
        _queue(retry, missing)
        _raise_first_error(await retry.execute(raise_on_error=False), missing)


def sync_clock(client: redis.Redis, clock: ServerClock) -> None:
    sent_at = clock.local()
    reply = client.time()
    clock.observe(reply, sent_at, clock.local())


async def sync_clock_async(client: redis.asyncio.Redis, clock: ServerClock) -> None:
    sent_at = clock.local()
    reply = await client.time()
    clock.observe(reply, sent_at, clock.local())
