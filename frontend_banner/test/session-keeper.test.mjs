import assert from 'node:assert/strict';
import { test } from 'node:test';

import { RefreshError, classifyFailure } from '../src/errors.js';
import { SessionKeeper, computeBackoff, refreshDueAt, resolveExpiry } from '../src/session-keeper.js';
import { FakeClock, StorageHub, channelHub, fakeLocks, fakeTab, scriptedRefresh, settle } from './fakes.mjs';

const MINUTE = 60_000;

function keeperFor(tab, refresh, options = {}) {
  return new SessionKeeper({ refresh, env: tab.env, expiresAt: tab.env.now() + 10 * MINUTE, ...options });
}

test('computeBackoff grows exponentially within the jitter band', () => {
  const nominal = [1000, 2000, 4000, 8000, 16000, 30000, 30000];
  nominal.forEach((expected, index) => {
    const attempt = index + 1;
    assert.equal(computeBackoff(attempt, {}, () => 0), expected / 2, `attempt ${attempt} lower bound`);
    assert.equal(computeBackoff(attempt, {}, () => 1), expected, `attempt ${attempt} upper bound`);
  });
});

test('computeBackoff jitter spreads equal attempts apart', () => {
  assert.notEqual(computeBackoff(3, {}, () => 0.1), computeBackoff(3, {}, () => 0.9));
});

test('refreshDueAt refreshes ahead, or half-way for short tokens', () => {
  assert.equal(refreshDueAt(100 * MINUTE, 0, 5 * MINUTE), 95 * MINUTE);
  assert.equal(refreshDueAt(4 * MINUTE, 0, 5 * MINUTE), 2 * MINUTE);
});

test('resolveExpiry prefers expiresIn and rejects past or missing values', () => {
  assert.equal(resolveExpiry({ expiresIn: 60, expiresAt: 1 }, 1000), 61_000);
  assert.equal(resolveExpiry({ expiresAt: new Date(5000) }, 1000), 5000);
  assert.throws(() => resolveExpiry({ expiresAt: 500 }, 1000), TypeError);
  assert.throws(() => resolveExpiry(undefined, 1000), TypeError);
});

test('classifyFailure tells network, refusal and server errors apart', () => {
  assert.deepEqual(classifyFailure(new TypeError('Failed to fetch')),
    { kind: 'network', reason: 'network', status: null, detail: 'fetch_error' });
  assert.equal(classifyFailure(new Error('x'), { onLine: false }).detail, 'offline');
  assert.equal(classifyFailure(Object.assign(new Error('t'), { name: 'TimeoutError' })).detail, 'timeout');
  assert.equal(classifyFailure({ status: 401 }).kind, 'refused');
  assert.equal(classifyFailure({ status: 403 }).kind, 'refused');
  assert.deepEqual(classifyFailure({ status: 503 }),
    { kind: 'server', reason: 'server_error', status: 503, detail: '503' });
  assert.equal(classifyFailure({ status: 429 }).reason, 'rate_limited');
  assert.equal(classifyFailure(new RefreshError('refused', 'no', { status: 401, reason: 'inactive' })).reason, 'inactive');
  assert.equal(classifyFailure(new RefreshError('refused', 'no', { reason: 'made-up' })).reason, 'invalid');
});

test('RefreshError.fromResponse reads the reason from the JSON body', async () => {
  const response = new Response(JSON.stringify({ detail: { reason: 'revoked' } }), { status: 401 });
  const error = await RefreshError.fromResponse(response);
  assert.equal(error.kind, 'refused');
  assert.equal(error.reason, 'revoked');
  assert.equal(error.status, 401);
});

test('keeper refreshes when due and not before', async () => {
  const clock = new FakeClock();
  const tab = fakeTab({ clock });
  const { refresh, calls } = scriptedRefresh(clock, ['ok']);
  const keeper = keeperFor(tab, refresh).start();
  await clock.advance(5 * MINUTE - 1);
  assert.equal(calls.length, 0);
  await clock.advance(1);
  assert.equal(calls.length, 1);
  assert.equal(keeper.state.expiresAt, clock.now() + 10 * MINUTE);
  keeper.stop();
});

test('keeper retries a network failure with backoff and clears on success', async () => {
  const clock = new FakeClock();
  const tab = fakeTab({ clock, random: () => 1 });
  const { refresh, calls } = scriptedRefresh(clock, ['network', 'network', 'ok']);
  const keeper = keeperFor(tab, refresh).start();
  await clock.advance(5 * MINUTE);
  assert.equal(keeper.state.problem, 'network');
  assert.equal(keeper.state.problemSince, clock.now());
  assert.equal(keeper.state.nextRetryAt, clock.now() + 1000);
  await clock.advance(1000);
  assert.equal(calls.length, 2);
  assert.equal(keeper.state.attempt, 2);
  assert.equal(keeper.state.nextRetryAt, clock.now() + 2000);
  await clock.advance(2000);
  assert.equal(calls.length, 3);
  assert.equal(keeper.state.problem, null);
  assert.equal(keeper.state.attempt, 0);
  keeper.stop();
});

test('keeper does not retry a refusal by itself', async () => {
  const clock = new FakeClock();
  const tab = fakeTab({ clock });
  const { refresh, calls } = scriptedRefresh(clock, [401]);
  const keeper = keeperFor(tab, refresh, { raceSettleMs: 1500 }).start();
  await clock.advance(5 * MINUTE);
  assert.equal(keeper.state.problem, null, 'a refusal first waits for news of another tab');
  await clock.advance(1500);
  assert.equal(keeper.state.problem, 'refused');
  assert.equal(keeper.state.nextRetryAt, null);
  await clock.advance(4 * MINUTE);
  assert.equal(calls.length, 1);
  keeper.retryNow();
  await clock.advance(1500);
  assert.equal(calls.length, 2);
  keeper.stop();
});

test('keeper classifies server errors and keeps retrying them', async () => {
  const clock = new FakeClock();
  const tab = fakeTab({ clock, random: () => 1 });
  const { refresh, calls } = scriptedRefresh(clock, [503, 503, 503, 'ok']);
  const keeper = keeperFor(tab, refresh).start();
  const failures = [];
  keeper.addEventListener('failed', (event) => failures.push(event.detail));
  await clock.advance(5 * MINUTE + 7000);
  assert.equal(calls.length, 4);
  assert.deepEqual(failures.map((f) => [f.kind, f.reason]), Array(3).fill(['server', 'server_error']));
  assert.equal(keeper.state.problem, null);
  keeper.stop();
});

test('keeper retries at once when the browser comes back online', async () => {
  const clock = new FakeClock();
  const tab = fakeTab({ clock });
  const { refresh, calls } = scriptedRefresh(clock, ['network', 'network', 'ok']);
  const keeper = keeperFor(tab, refresh).start();
  tab.goOffline();
  await clock.advance(5 * MINUTE);
  assert.equal(keeper.state.detail, 'offline');
  assert.equal(keeper.state.online, false);
  const before = calls.length;
  tab.goOnline();
  await settle();
  assert.equal(calls.length, before + 1);
  keeper.stop();
});

test('keeper turns a hung refresh into a network timeout', async () => {
  const clock = new FakeClock();
  const tab = fakeTab({ clock });
  const { refresh } = scriptedRefresh(clock, ['hang']);
  const keeper = keeperFor(tab, refresh, { timeoutMs: 10_000 }).start();
  await clock.advance(5 * MINUTE + 10_000);
  assert.equal(keeper.state.problem, 'network');
  assert.equal(keeper.state.detail, 'timeout');
  keeper.stop();
});

test('keeper reads the wall clock after a throttled absence, and retries once', async () => {
  const clock = new FakeClock();
  const tab = fakeTab({ clock });
  const { refresh, calls } = scriptedRefresh(clock, ['network']);
  const keeper = keeperFor(tab, refresh, { expiresAt: clock.now() + 4 * MINUTE }).start();
  await clock.advance(2 * MINUTE + 5000);
  const callsBefore = calls.length;
  assert.ok(callsBefore >= 2);
  tab.setVisibility('hidden');
  clock.jump(5 * MINUTE);
  assert.equal(calls.length, callsBefore, 'no timer fired while throttled');
  tab.setVisibility('visible');
  tab.setVisibility('visible');
  await settle();
  assert.equal(calls.length, callsBefore + 1);
  assert.ok(keeper.timeLeft() < 0, 'time left comes from the wall clock');
  await clock.advance(100);
  assert.equal(calls.length, callsBefore + 1, 'no burst of overdue retries');
  keeper.stop();
});

test('keeper reports an invalid refresh result as a server failure', async () => {
  const clock = new FakeClock();
  const tab = fakeTab({ clock });
  const keeper = keeperFor(tab, async () => ({ token: 'x' })).start();
  await clock.advance(5 * MINUTE);
  assert.equal(keeper.state.problem, 'server');
  assert.equal(keeper.state.detail, 'invalid_result');
  keeper.stop();
});

function twoTabs({ withLocks = true, withChannel = true, lagTurns = 0 } = {}) {
  const clock = new FakeClock();
  const storageHub = new StorageHub({ lagTurns });
  const Channel = withChannel ? channelHub({ lagTurns }) : null;
  const locks = withLocks ? fakeLocks() : null;
  const server = { calls: [], failing: false };
  server.refresh = async () => {
    server.calls.push(clock.now());
    if (server.failing) throw new TypeError('Failed to fetch');
    return { expiresAt: clock.now() + 10 * MINUTE };
  };
  const expiresAt = clock.now() + 10 * MINUTE;
  const make = (random) => {
    const tab = fakeTab({ clock, storageHub, Channel, locks, random });
    const keeper = new SessionKeeper({ refresh: server.refresh, env: tab.env, expiresAt, name: 'app' });
    return { tab, keeper: keeper.start() };
  };
  return { clock, server, a: make(() => 0.25), b: make(() => 0.75) };
}

for (const [label, options] of [
  ['Web Locks and BroadcastChannel', {}],
  ['storage fallback', { withLocks: false, withChannel: false }],
]) {
  test(`two tabs refresh once per cycle with ${label}`, async () => {
    const { clock, server, a, b } = twoTabs(options);
    await clock.advance(5 * MINUTE + 1000);
    assert.equal(server.calls.length, 1);
    assert.equal(a.keeper.state.expiresAt, b.keeper.state.expiresAt);
    await clock.advance(5 * MINUTE + 1000);
    assert.equal(server.calls.length, 2);
    a.keeper.stop();
    b.keeper.stop();
  });

  test(`two tabs share one retry schedule with ${label}`, async () => {
    const { clock, server, a, b } = twoTabs(options);
    server.failing = true;
    await clock.advance(5 * MINUTE + 500);
    assert.equal(server.calls.length, 1, 'one attempt for both tabs');
    assert.equal(a.keeper.state.problem, 'network');
    assert.equal(b.keeper.state.problem, 'network');
    a.keeper.stop();
    b.keeper.stop();
  });

  test(`success in one tab clears the problem in the other with ${label}`, async () => {
    const { clock, server, a, b } = twoTabs(options);
    server.failing = true;
    await clock.advance(5 * MINUTE + 500);
    assert.equal(b.keeper.state.problem, 'network');
    server.failing = false;
    a.keeper.retryNow();
    await clock.advance(300);
    assert.equal(a.keeper.state.problem, null);
    assert.equal(b.keeper.state.problem, null);
    assert.equal(b.keeper.state.expiresAt, a.keeper.state.expiresAt);
    a.keeper.stop();
    b.keeper.stop();
  });
}

test('two tabs refresh once per cycle when the news arrives after the lock', async () => {
  // Storage and channel news take 45 turns to reach the other tab, longer than the fake clock
  // settles between two timers, while the lock passes at once. So the second tab, due at the
  // same instant, gets the lock before the first tab's record reaches it.
  const { clock, server, a, b } = twoTabs({ lagTurns: 45 });
  for (let cycle = 1; cycle <= 3; cycle += 1) {
    await clock.advance(5 * MINUTE + 1000);
    assert.equal(server.calls.length, cycle, `refresh calls after cycle ${cycle}`);
    assert.equal(a.keeper.state.expiresAt, b.keeper.state.expiresAt);
  }
  a.keeper.stop();
  b.keeper.stop();
});

test('renewal mark is released after a while and when the tab stops', async () => {
  const { clock, a, b } = twoTabs({});
  const locks = a.tab.env.locks;
  const marks = async () => (await locks.query()).held.filter((lock) => lock.name.includes(':renewed:'));
  await clock.advance(5 * MINUTE + 1000);
  assert.equal((await marks()).length, 1);
  await clock.advance(20_000);
  assert.equal((await marks()).length, 0, 'released after markMs');
  await clock.advance(5 * MINUTE - 15_000);
  assert.equal((await marks()).length, 1, 'the next renewal holds a new mark');
  a.keeper.stop();
  b.keeper.stop();
  await settle();
  assert.equal((await marks()).length, 0, 'released on stop');
});

test('tab that lost a rotation race is neither warned nor failing', async () => {
  const clock = new FakeClock();
  const storageHub = new StorageHub();
  const Channel = channelHub();
  let releaseWinner;
  // A lock that does not exclude: the race it should have prevented happens anyway.
  const locks = { request: (name, options, task) => task() };
  const winnerTab = fakeTab({ clock, storageHub, Channel, locks });
  const loserTab = fakeTab({ clock, storageHub, Channel, locks });
  const expiresAt = clock.now() + 10 * MINUTE;
  const winner = new SessionKeeper({
    env: winnerTab.env, expiresAt, name: 'app',
    refresh: () => new Promise((resolve) => {
      releaseWinner = () => resolve({ expiresAt: clock.now() + 10 * MINUTE });
    }),
  }).start();
  const loser = new SessionKeeper({
    env: loserTab.env, expiresAt, name: 'app',
    refresh: async () => {
      // The server already rotated the token for the winner: the loser's one is refused.
      releaseWinner();
      throw new RefreshError('refused', 'token superseded', { status: 401, reason: 'revoked' });
    },
  }).start();
  const failures = [];
  loser.addEventListener('failed', (event) => failures.push(event.detail));
  winner.retryNow();
  await settle();
  await loser.retryNow();
  await settle();
  assert.deepEqual(failures, []);
  assert.equal(loser.state.problem, null);
  assert.equal(loser.state.expiresAt, winner.state.expiresAt);
  winner.stop();
  loser.stop();
});

test('keeper works with no storage, channel or locks at all', async () => {
  const clock = new FakeClock();
  const tab = fakeTab({ clock });
  const { refresh, calls } = scriptedRefresh(clock, ['network', 'ok']);
  const keeper = keeperFor(tab, refresh).start();
  assert.deepEqual(keeper.mechanisms, { lock: 'none', channel: 'none' });
  await clock.advance(5 * MINUTE + 1000);
  assert.equal(calls.length, 2);
  assert.equal(keeper.state.problem, null);
  keeper.stop();
});

test('stop removes every listener and timer', async () => {
  const clock = new FakeClock();
  const tab = fakeTab({ clock });
  const { refresh, calls } = scriptedRefresh(clock, ['ok']);
  const keeper = keeperFor(tab, refresh).start();
  keeper.stop();
  assert.equal(clock.timers.size, 0);
  tab.goOnline();
  tab.setVisibility('visible');
  await clock.advance(20 * MINUTE);
  assert.equal(calls.length, 0);
});

test('stored failure of an earlier session raises no problem in a new tab', async () => {
  const clock = new FakeClock();
  const storageHub = new StorageHub();
  const old = fakeTab({ clock, storageHub });
  const failing = keeperFor(old, scriptedRefresh(clock, ['network']).refresh, { name: 'app' }).start();
  await clock.advance(5 * MINUTE);
  failing.stop();
  await clock.advance(MINUTE);
  const fresh = fakeTab({ clock, storageHub });
  const keeper = keeperFor(fresh, scriptedRefresh(clock, ['ok']).refresh, { name: 'app' }).start();
  assert.equal(keeper.state.problem, null);
  keeper.stop();
});

// A page reload: the old page's keeper stops, and a new one starts on the same storage with
// the expiry the host read again (rounded to the second here, as a server's `expires_at`).
function reload(clock, storageHub, expiresAt, refresh, round = Math.floor) {
  const tab = fakeTab({ clock, storageHub });
  const keeper = new SessionKeeper({
    refresh, env: tab.env, name: 'app', expiresAt: round(expiresAt / 1000) * 1000,
  });
  return keeper.start();
}

test('reloaded page resumes an ongoing network problem', async () => {
  const clock = new FakeClock();
  const storageHub = new StorageHub();
  const first = fakeTab({ clock, storageHub });
  const expiresAt = clock.now() + 10 * MINUTE + 700;
  const { refresh } = scriptedRefresh(clock, ['network']);
  const before = new SessionKeeper({ refresh, env: first.env, name: 'app', expiresAt }).start();
  await clock.advance(5 * MINUTE + 3000);
  const { problem, problemSince, attempt } = before.state;
  assert.equal(problem, 'network');
  before.stop();

  const after = reload(clock, storageHub, expiresAt, refresh);

  assert.equal(after.state.problem, 'network');
  assert.equal(after.state.problemSince, problemSince, 'the banner shows at once, not after 5 s');
  assert.equal(after.state.attempt, attempt);
  assert.equal(after.state.expiresAt, expiresAt, 'the exact expiry the other tabs use');
  after.stop();
});

test('reloaded page shows a refusal again', async () => {
  const clock = new FakeClock();
  const storageHub = new StorageHub();
  const first = fakeTab({ clock, storageHub });
  const expiresAt = clock.now() + 10 * MINUTE;
  const { refresh, calls } = scriptedRefresh(clock, [401]);
  const before = new SessionKeeper({ refresh, env: first.env, name: 'app', expiresAt }).start();
  await clock.advance(5 * MINUTE + 3000); // a refusal first waits 1.5 s for another tab's news
  assert.equal(before.state.problem, 'refused');
  before.stop();

  const after = reload(clock, storageHub, expiresAt, refresh);
  await clock.advance(60_000);

  assert.equal(after.state.problem, 'refused');
  assert.equal(calls.length, 1, 'a refusal is not retried after a reload either');
  after.stop();
});

test('reloaded page keeps its token refresh schedule', async () => {
  const clock = new FakeClock();
  const storageHub = new StorageHub();
  const first = fakeTab({ clock, storageHub });
  const { refresh, calls } = scriptedRefresh(clock, ['ok'], { lifetimeMs: 8 * 60 * MINUTE });
  const before = new SessionKeeper({
    refresh, env: first.env, name: 'app', expiresAt: clock.now() + 4 * MINUTE,
  }).start();
  await clock.advance(3 * MINUTE);
  assert.equal(calls.length, 1);
  const { expiresAt, learnedAt } = before.state;
  before.stop();
  // Reloaded 4 minutes before the 8-hour token's refresh falls due.
  clock.jump(expiresAt - 5 * MINUTE - 4 * MINUTE - clock.now());

  const after = reload(clock, storageHub, expiresAt + 1, refresh, Math.ceil);
  assert.equal(after.state.learnedAt, learnedAt);
  await clock.advance(4 * MINUTE + 1000);

  assert.equal(calls.length, 2, 'refreshed 5 minutes ahead, not half-way through what is left');
  after.stop();
});

test('refresh outcome after stop is discarded', async () => {
  const clock = new FakeClock();
  const storageHub = new StorageHub();
  const tab = fakeTab({ clock, storageHub });
  let answer;
  const refresh = () => new Promise((resolve) => {
    answer = () => resolve({ expiresIn: 600 });
  });
  const keeper = new SessionKeeper({
    refresh, env: tab.env, name: 'app', expiresAt: clock.now() + 10 * MINUTE,
  }).start();
  const refreshed = [];
  keeper.addEventListener('refreshed', () => refreshed.push(true));
  keeper.retryNow();
  await clock.advance(1000); // the storage lease settles first
  const stateBefore = keeper.state.expiresAt;
  keeper.end();
  answer();
  await settle();

  assert.deepEqual(refreshed, []);
  assert.equal(keeper.state.expiresAt, stateBefore);
  assert.equal(storageHub.data.get('session-keeper:app:state'), undefined, 'nothing published');
});
