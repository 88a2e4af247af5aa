// Deterministic stand-ins for the browser APIs the keeper uses: a wall clock with timers,
// localStorage with `storage` events, BroadcastChannel, Web Locks and fetch.

/** Let pending promise callbacks and queued deliveries run (real macrotask turns). */
export async function settle(turns = 30) {
  for (let i = 0; i < turns; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

export class FakeClock {
  constructor(start = Date.UTC(2025, 0, 6, 9, 0, 0)) {
    this.t = start;
    this.timers = new Map();
    this.nextId = 1;
    this.now = () => this.t;
    this.setTimeout = (fn, ms) => {
      const id = this.nextId++;
      this.timers.set(id, { at: this.t + Math.max(0, Number(ms) || 0), fn });
      return id;
    };
    this.clearTimeout = (id) => {
      this.timers.delete(id);
    };
  }

  /** Move time forward by `ms`, firing every timer that falls due, in order. */
  async advance(ms) {
    const end = this.t + ms;
    for (;;) {
      await settle();
      let nextId = null;
      let next = null;
      for (const [id, timer] of this.timers) {
        if (timer.at <= end && (next === null || timer.at < next.at)) {
          nextId = id;
          next = timer;
        }
      }
      if (next === null) break;
      this.timers.delete(nextId);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
    await settle();
  }

  /** Move the wall clock without firing timers: a tab in the background or a sleeping laptop. */
  jump(ms) {
    this.t += ms;
  }
}

/** Let `turns` macrotask turns pass, then call `fn`: news that takes a while to arrive. */
function later(turns, fn) {
  if (turns <= 0) {
    setImmediate(fn);
    return;
  }
  setImmediate(() => later(turns - 1, fn));
}

/**
 * Shared localStorage of one origin; each tab gets a view that fires `storage` in the others.
 * With `lagTurns`, a write reaches the other tabs' views (and their events) only after that
 * many macrotask turns, as when each tab's renderer keeps its own copy of the storage.
 */
export class StorageHub {
  constructor({ lagTurns = 0 } = {}) {
    this.data = new Map();
    this.windows = new Set();
    this.lagTurns = lagTurns;
    this.views = new Map();
  }

  view(win) {
    this.windows.add(win);
    const hub = this;
    const copy = new Map(hub.data);
    hub.views.set(win, copy);
    const deliver = (key, newValue) => {
      for (const other of hub.windows) {
        if (other === win) continue;
        later(hub.lagTurns, () => {
          const otherCopy = hub.views.get(other);
          if (newValue === null) otherCopy.delete(key);
          else otherCopy.set(key, newValue);
          other.dispatchEvent(Object.assign(new Event('storage'), { key, newValue }));
        });
      }
    };
    return {
      getItem: (key) => {
        const seen = hub.lagTurns > 0 ? copy : hub.data;
        return seen.has(key) ? seen.get(key) : null;
      },
      setItem: (key, value) => {
        hub.data.set(key, String(value));
        copy.set(key, String(value));
        deliver(key, String(value));
      },
      removeItem: (key) => {
        hub.data.delete(key);
        copy.delete(key);
        deliver(key, null);
      },
    };
  }
}

export function channelHub({ lagTurns = 0 } = {}) {
  const open = new Set();
  return class FakeBroadcastChannel {
    constructor(name) {
      this.name = name;
      this.onmessage = null;
      open.add(this);
    }

    postMessage(data) {
      const copy = structuredClone(data);
      for (const other of open) {
        if (other !== this && other.name === this.name) later(lagTurns, () => other.onmessage?.({ data: copy }));
      }
    }

    close() {
      open.delete(this);
    }
  };
}

/**
 * Web Locks with one exclusive queue per name, shared by every tab given the same object.
 * `query()` lists the names of the locks held at that moment.
 */
export function fakeLocks() {
  const tails = new Map();
  const held = new Set();
  return {
    request(name, options, callback) {
      const task = typeof options === 'function' ? options : callback;
      const previous = tails.get(name) ?? Promise.resolve();
      const run = previous.then(async () => {
        held.add(name);
        try {
          return await task({ name });
        } finally {
          held.delete(name);
        }
      });
      tails.set(name, run.catch(() => {}));
      return run;
    },
    async query() {
      return { held: [...held].map((name) => ({ name, mode: 'exclusive' })), pending: [] };
    },
  };
}

/** One browser tab: window, document and navigator event targets plus the given shared hubs. */
export function fakeTab({ clock, storageHub, Channel = null, locks = null, fetch, random = () => 0.5 }) {
  const win = new EventTarget();
  const doc = Object.assign(new EventTarget(), { visibilityState: 'visible' });
  const navigator = { onLine: true };
  return {
    window: win,
    document: doc,
    navigator,
    env: {
      now: clock.now,
      setTimeout: clock.setTimeout,
      clearTimeout: clock.clearTimeout,
      random,
      fetch,
      storage: storageHub ? storageHub.view(win) : null,
      locks,
      BroadcastChannel: Channel,
      window: win,
      document: doc,
      navigator,
      crypto: globalThis.crypto,
    },
    setVisibility(state) {
      doc.visibilityState = state;
      doc.dispatchEvent(new Event('visibilitychange'));
    },
    goOffline() {
      navigator.onLine = false;
      win.dispatchEvent(new Event('offline'));
    },
    goOnline() {
      navigator.onLine = true;
      win.dispatchEvent(new Event('online'));
    },
  };
}

/** A scripted refresh endpoint: each call takes the next outcome ('ok', 'network', 401, 503...). */
export function scriptedRefresh(clock, outcomes, { lifetimeMs = 10 * 60_000 } = {}) {
  const calls = [];
  const refresh = async () => {
    calls.push(clock.now());
    const outcome = outcomes.length > 1 ? outcomes.shift() : outcomes[0];
    if (outcome === 'ok') return { expiresAt: clock.now() + lifetimeMs };
    if (outcome === 'network') throw new TypeError('Failed to fetch');
    if (outcome === 'hang') return new Promise(() => {});
    const error = new Error(`HTTP ${outcome}`);
    error.status = outcome;
    throw error;
  };
  return { refresh, calls };
}
