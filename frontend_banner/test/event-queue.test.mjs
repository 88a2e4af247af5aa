import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ClientEventQueue, randomEventId } from '../src/event-queue.js';
import { SessionKeeper } from '../src/session-keeper.js';
import { FakeClock, StorageHub, fakeTab } from './fakes.mjs';

function queueWith(responses, { storage = new StorageHub().view(new EventTarget()), ...options } = {}) {
  const sent = [];
  const fetch = async (url, init) => {
    sent.push({ url, init, body: JSON.parse(init.body) });
    const next = responses.length > 1 ? responses.shift() : responses[0];
    if (next === 'network') throw new TypeError('Failed to fetch');
    return new Response('{}', { status: next });
  };
  const queue = new ClientEventQueue({
    url: '/events', headers: () => ({ Authorization: 'Bearer t' }), maxEvents: 5, batchSize: 2,
    storageKey: 'q', env: { now: () => 1_700_000_000_000, fetch, storage, crypto: globalThis.crypto, random: Math.random },
    ...options,
  });
  return { queue, sent };
}

const failure = { type: 'refresh_failed', reason: 'network', detail: 'offline', occurred_at: 1_699_999_999 };

test('queue sends batches with keepalive and empties on success', async () => {
  const { queue, sent } = queueWith([200]);
  for (let i = 0; i < 3; i += 1) queue.push(failure);
  assert.equal(await queue.flush(), 'sent');
  assert.equal(sent.length, 2);
  assert.equal(sent[0].init.keepalive, true);
  assert.equal(sent[0].init.headers.Authorization, 'Bearer t');
  assert.equal(sent[0].body.events.length, 2);
  assert.equal(sent[0].body.sent_at, 1_700_000_000);
  assert.equal(queue.pending().length, 0);
});

test('queue keeps events when the endpoint fails or the network is down', async () => {
  for (const response of ['network', 503, 429, 401]) {
    const { queue } = queueWith([response]);
    queue.push(failure);
    assert.notEqual(await queue.flush(), 'sent');
    assert.equal(queue.pending().length, 1, `kept after ${response}`);
  }
});

test('queue resends the same ids after a lost response', async () => {
  const { queue, sent } = queueWith(['network', 200]);
  queue.push(failure);
  await queue.flush();
  await queue.flush();
  assert.equal(sent.length, 2);
  assert.equal(sent[0].body.events[0].id, sent[1].body.events[0].id);
});

test('queue drops a batch the endpoint rejects as invalid', async () => {
  const { queue } = queueWith([422]);
  queue.push(failure);
  assert.equal(await queue.flush(), 'sent');
  assert.equal(queue.rejected, 1);
});

test('queue caps its length by dropping the oldest', () => {
  const { queue } = queueWith([200]);
  for (let i = 0; i < 7; i += 1) queue.push({ ...failure, occurred_at: i });
  assert.deepEqual(queue.pending().map((e) => e.occurred_at), [2, 3, 4, 5, 6]);
  assert.equal(queue.dropped, 2);
});

test('queue survives a reload through storage', () => {
  const hub = new StorageHub();
  const storage = hub.view(new EventTarget());
  queueWith([200], { storage }).queue.push(failure);
  assert.equal(queueWith([200], { storage }).queue.pending().length, 1);
});

test('queue works in memory when storage throws', async () => {
  const broken = { getItem() { throw new Error('denied'); }, setItem() { throw new Error('denied'); }, removeItem() {} };
  const { queue } = queueWith([200], { storage: broken });
  queue.push(failure);
  assert.equal(queue.pending().length, 1);
  assert.equal(await queue.flush(), 'sent');
});

test('randomEventId works without crypto', () => {
  assert.match(randomEventId(null, Math.random), /^[0-9a-f]{32}$/);
  assert.match(randomEventId({ getRandomValues: (b) => b.fill(7) }, Math.random), /^(07){16}$/);
});

test('keeper queues one event per network outage, and flushes after success', async () => {
  const clock = new FakeClock();
  const posts = [];
  const tab = fakeTab({
    clock,
    storageHub: new StorageHub(),
    fetch: async (url, init) => {
      posts.push(JSON.parse(init.body));
      return new Response('{"accepted":1}', { status: 200 });
    },
  });
  // Two outages (the retry of the first is not a new failure), split by a server error.
  const outcomes = ['network', 'network', 503, 'network', 'ok'];
  const keeper = new SessionKeeper({
    env: tab.env,
    expiresAt: clock.now() + 10 * 60_000,
    clientEvents: { url: '/v1/sessions/client-events' },
    refresh: async () => {
      const next = outcomes.shift();
      if (next === 'network') throw new TypeError('Failed to fetch');
      if (next === 503) throw Object.assign(new Error('503'), { status: 503 });
      return { expiresIn: 600 };
    },
  }).start();
  await clock.advance(5 * 60_000 + 20_000);
  assert.equal(keeper.state.problem, null);
  assert.equal(posts.length, 1);
  assert.deepEqual(posts[0].events.map((e) => [e.reason, e.detail]), [['network', 'fetch_error'], ['network', 'fetch_error']]);
  assert.equal(keeper.state.pendingEvents, 0);
  keeper.stop();
});

test('keeper does not queue a timed-out refresh', async () => {
  const clock = new FakeClock();
  const posts = [];
  const tab = fakeTab({
    clock,
    storageHub: new StorageHub(),
    fetch: async (url, init) => {
      posts.push(JSON.parse(init.body));
      return new Response('{"accepted":1}', { status: 200 });
    },
  });

  // The server may have received a request that timed out, and counted it itself.
  const outcomes = ['hang', { status: 408 }, 'ok'];
  const keeper = new SessionKeeper({
    env: tab.env,
    expiresAt: clock.now() + 10 * 60_000,
    timeoutMs: 2_000,
    clientEvents: { url: '/v1/sessions/client-events' },
    refresh: async () => {
      const next = outcomes.shift();
      if (next === 'hang') return new Promise(() => {});
      if (typeof next === 'object') throw Object.assign(new Error('408'), next);
      return { expiresIn: 600 };
    },
  }).start();
  const failures = [];
  keeper.addEventListener('failed', (event) => failures.push(event.detail.detail));

  await clock.advance(5 * 60_000 + 10_000);

  assert.deepEqual(failures, ['timeout', 'timeout']);
  assert.equal(keeper.state.problem, null);
  assert.equal(posts.length, 0);
  assert.equal(keeper.state.pendingEvents, 0);
  keeper.stop();
});
