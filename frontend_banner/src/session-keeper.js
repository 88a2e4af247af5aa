// SessionKeeper: renews a session before its token expires by calling the host's own refresh
// function, retries failures with exponential backoff and jitter, and shares the outcome with
// the other tabs of the app.
//
// Every decision reads the wall clock (env.now) against absolute timestamps (expiresAt,
// nextRetryAt). Timers only wake the keeper up, so a throttled, late or skipped timer (a tab
// in the background, a laptop asleep) never shifts a deadline: the next wake-up, or the
// `visibilitychange`, `online` and `pageshow` events, catch up in one step.

import { classifyFailure } from './errors.js';
import { ClientEventQueue, randomEventId } from './event-queue.js';
import { TabSync } from './tab-sync.js';

export const KEEPER_DEFAULTS = Object.freeze({
  name: 'default',
  refreshAheadMs: 5 * 60_000,
  timeoutMs: 15_000,
  initialRetryMs: 1_000,
  maxRetryMs: 30_000,
  retryFactor: 2,
  maxTimerMs: 30_000,
  raceSettleMs: 1_500,
  eventsRetryMs: 60_000,
});

// Network failures whose request cannot have reached the server, so the keeper reports them.
const UNSEEN_BY_SERVER = new Set(['offline', 'fetch_error']);
// Two expiry times closer than this belong to the same token (hosts may read it from a source
// rounded to the second, or add a little request latency).
const SAME_TOKEN_MS = 5_000;

// State fields of a keeper with no refresh problem.
const NO_PROBLEM = Object.freeze({
  problem: null,
  reason: null,
  detail: null,
  status: null,
  problemSince: null,
  attempt: 0,
  nextRetryAt: null,
});

/**
 * Return the delay before retry number `attempt` (1-based), in ms: exponential growth capped
 * at maxRetryMs, with "equal jitter" (a random point in the upper half) so tabs and devices
 * spread out while no retry comes sooner than half the nominal delay.
 */
export function computeBackoff(attempt, options = KEEPER_DEFAULTS, random = Math.random) {
  const { initialRetryMs, maxRetryMs, retryFactor } = { ...KEEPER_DEFAULTS, ...options };
  const exponent = Math.max(0, attempt - 1);
  const nominal = Math.min(maxRetryMs, initialRetryMs * retryFactor ** exponent);
  return nominal / 2 + random() * (nominal / 2);
}

/**
 * Return when a refresh is due, in ms since the epoch: `refreshAheadMs` before expiry, or
 * half-way through the token's lifetime when the token lives less than twice that.
 */
export function refreshDueAt(expiresAt, learnedAt, refreshAheadMs) {
  const lifetime = Math.max(0, expiresAt - learnedAt);
  return expiresAt - Math.min(refreshAheadMs, lifetime / 2);
}

/**
 * Read the new expiry from what the host's refresh function returned: `expiresAt` (ms since
 * the epoch, or a Date) or `expiresIn` (seconds from now, immune to a wrong device clock).
 */
export function resolveExpiry(result, now) {
  if (result && Number.isFinite(result.expiresIn) && result.expiresIn > 0) {
    return now + result.expiresIn * 1000;
  }
  const raw = result?.expiresAt instanceof Date ? result.expiresAt.getTime() : result?.expiresAt;
  if (Number.isFinite(raw) && raw > now) return raw;
  throw new TypeError(
    'refresh() must resolve to {expiresAt: ms since epoch or Date in the future} or ' +
      `{expiresIn: seconds > 0}; got ${JSON.stringify(result)}`,
  );
}

function toMs(value) {
  if (value instanceof Date) return value.getTime();
  return Number.isFinite(value) ? value : null;
}

function defaultEnv() {
  const g = globalThis;
  return {
    now: () => Date.now(),
    setTimeout: (fn, ms) => g.setTimeout(fn, ms),
    clearTimeout: (id) => g.clearTimeout(id),
    random: Math.random,
    fetch: typeof g.fetch === 'function' ? (...args) => g.fetch(...args) : undefined,
    storage: (() => {
      try {
        return g.localStorage ?? null;
      } catch {
        return null;
      }
    })(),
    locks: g.navigator?.locks ?? null,
    BroadcastChannel: typeof g.BroadcastChannel === 'function' ? g.BroadcastChannel : null,
    window: typeof g.addEventListener === 'function' ? g : null,
    document: g.document ?? null,
    navigator: g.navigator ?? null,
    crypto: g.crypto ?? null,
  };
}

export class SessionKeeper extends EventTarget {
  #options;
  #env;
  #state;
  #sync;
  #queue = null;
  #timer = null;
  #eventsTimer = null;
  #inFlight = null;
  #started = false;
  #lastAttemptEndedAt = 0;
  #listeners;

  /**
   * @param {object} options see index.d.ts (SessionKeeperOptions) for every field.
   */
  constructor(options = {}) {
    super();
    if (typeof options.refresh !== 'function') {
      throw new TypeError('SessionKeeper: options.refresh must be a function returning a promise');
    }
    this.#options = { ...KEEPER_DEFAULTS, ...options };
    this.#env = { ...defaultEnv(), ...options.env };

    const now = this.#env.now();
    const tabId = randomEventId(this.#env.crypto, this.#env.random);
    const expiresAt = toMs(options.expiresAt);
    this.#state = {
      expiresAt,
      learnedAt: expiresAt === null ? null : now,
      ...NO_PROBLEM,
      refreshing: false,
      online: this.#env.navigator?.onLine !== false,
    };
    this.tabId = tabId;
    this.#lastAttemptEndedAt = expiresAt === null ? 0 : now;

    this.#sync = new TabSync({
      name: this.#options.name,
      tabId,
      env: this.#env,
      leaseMs: this.#options.timeoutMs + 5_000,
    });

    if (options.clientEvents?.url) {
      this.#queue = new ClientEventQueue({
        url: options.clientEvents.url,
        headers: options.clientEvents.headers,
        maxEvents: options.clientEvents.maxEvents ?? 200,
        batchSize: options.clientEvents.batchSize ?? 50,
        storageKey: `session-keeper:${this.#options.name}:client-events`,
        env: this.#env,
      });
    }

    this.#listeners = {
      online: () => this.#onOnline(),
      offline: () => this.#update({ online: false }),
      visibilitychange: () => this.#onVisible(),
      pageshow: () => this.#onVisible(),
    };
  }

  /**
   * Snapshot of the keeper's state. `now` is the wall clock when the snapshot was taken, and
   * `pendingEvents` counts the queued client events of every tab (the queue is shared).
   */
  get state() {
    const pendingEvents = this.#queue ? this.#queue.pending().length : 0;
    return Object.freeze({ ...this.#state, pendingEvents, now: this.#env.now() });
  }

  /** Mechanisms in use for the cross-tab lock and channel. */
  get mechanisms() {
    return this.#sync.mechanisms;
  }

  /** Return the keeper's wall clock, in ms since the epoch. */
  now() {
    return this.#env.now();
  }

  start() {
    if (this.#started) return this;
    this.#started = true;
    const { window: win, document: doc } = this.#env;
    win?.addEventListener?.('online', this.#listeners.online);
    win?.addEventListener?.('offline', this.#listeners.offline);
    win?.addEventListener?.('pageshow', this.#listeners.pageshow);
    doc?.addEventListener?.('visibilitychange', this.#listeners.visibilitychange);
    this.#sync.open((record) => this.#adopt(record));
    const stored = this.#sync.read();
    if (stored) this.#adopt(stored, { resume: true });
    this.#wake('start');
    if (this.#state.online) this.#flushEvents();
    return this;
  }

  stop() {
    if (!this.#started) return;
    this.#started = false;
    const { window: win, document: doc } = this.#env;
    win?.removeEventListener?.('online', this.#listeners.online);
    win?.removeEventListener?.('offline', this.#listeners.offline);
    win?.removeEventListener?.('pageshow', this.#listeners.pageshow);
    doc?.removeEventListener?.('visibilitychange', this.#listeners.visibilitychange);
    this.#sync.close();
    this.#env.clearTimeout(this.#timer);
    this.#env.clearTimeout(this.#eventsTimer);
    this.#timer = null;
    this.#eventsTimer = null;
  }

  /** Stop, and forget the shared record so no tab adopts this session's state again (logout). */
  end() {
    this.stop();
    this.#sync.forget();
  }

  /**
   * Record a new expiry learned outside the keeper (a login), clear any problem, and tell
   * the other tabs. `shared` is passed to their onRemoteRefresh.
   */
  setExpiry(expiresAt, { shared } = {}) {
    const value = toMs(expiresAt);
    if (value === null) throw new TypeError('setExpiry: expiresAt must be ms since the epoch or a Date');
    const now = this.#env.now();
    this.#succeed(value, now, shared);
  }

  /** Refresh at once (the banner's « Réessayer »), ignoring the schedule. */
  retryNow() {
    return this.#attempt('manual');
  }

  /** Milliseconds until expiry by the wall clock, or null when the expiry is unknown. */
  timeLeft() {
    return this.#state.expiresAt === null ? null : this.#state.expiresAt - this.#env.now();
  }

  #onOnline() {
    this.#update({ online: true });
    if (this.#state.problem && this.#state.problem !== 'refused') {
      this.#attempt('online');
      return;
    }
    this.#wake('online');
    this.#flushEvents();
  }

  #onVisible() {
    if (this.#env.document?.visibilityState === 'hidden') return;
    // Listeners (the banner) redraw from the wall clock at once, before any retry finishes.
    this.#emit('change');
    this.#wake('visible');
  }

  #nextActionAt() {
    const s = this.#state;
    if (s.expiresAt === null || s.problem === 'refused') return null;
    if (s.problem) return s.nextRetryAt;
    return refreshDueAt(s.expiresAt, s.learnedAt ?? this.#env.now(), this.#options.refreshAheadMs);
  }

  #wake(trigger) {
    if (!this.#started || this.#inFlight) return;
    const dueAt = this.#nextActionAt();
    if (dueAt !== null && this.#env.now() >= dueAt) {
      this.#attempt(trigger);
      return;
    }
    this.#schedule();
  }

  #schedule() {
    this.#env.clearTimeout(this.#timer);
    this.#timer = null;
    if (!this.#started || this.#inFlight) return;
    const dueAt = this.#nextActionAt();
    const now = this.#env.now();
    // Wake at least every maxTimerMs: a long timer can be delayed by sleep, a short one is cheap.
    const delay = dueAt === null ? this.#options.maxTimerMs
      : Math.min(this.#options.maxTimerMs, Math.max(0, dueAt - now));
    this.#timer = this.#env.setTimeout(() => {
      this.#timer = null;
      this.#wake('timer');
    }, delay);
  }

  #attempt(trigger) {
    if (this.#inFlight) return this.#inFlight;
    this.#env.clearTimeout(this.#timer);
    this.#timer = null;
    const decidedAt = this.#env.now();
    this.#update({ refreshing: true });
    this.#inFlight = this.#sync
      .withLock(() => this.#attemptLocked(trigger, decidedAt))
      // The refresh function's own errors are handled inside; this catches the keeper's.
      .catch(() => this.#fail({ kind: 'server', reason: 'other', status: null, detail: 'exception' }))
      .finally(() => {
        this.#inFlight = null;
        this.#update({ refreshing: false });
        this.#schedule();
      });
    return this.#inFlight;
  }

  async #attemptLocked(trigger, decidedAt) {
    // Another tab attempted since this one decided to: take its outcome, send nothing. A click
    // on « Réessayer » still goes through after another tab's failure, not after its success.
    const shared = this.#sync.read();
    const since = shared && shared.tabId !== this.tabId && (shared.attemptEndedAt ?? 0) >= decidedAt;
    if (since && (trigger !== 'manual' || shared.outcome === 'success')) {
      this.#adopt(shared);
      return;
    }
    // The record of a tab that renewed just before may still be on its way; its renewal mark
    // is not. Wait briefly for the full record (it carries the host's `shared` value).
    const renewedFrom = this.#state.expiresAt;
    const renewal = renewedFrom === null ? null : await this.#sync.findRenewal(renewedFrom);
    if (renewal) {
      const record = await this.#sync.waitForSuccessSince(
        renewal.attemptEndedAt, this.#options.raceSettleMs);
      this.#adopt(record ?? renewal);
      return;
    }
    const startedAt = this.#env.now();
    let result;
    try {
      result = await this.#callRefresh();
    } catch (error) {
      if (!this.#started) return; // stopped (a logout) while the call was in flight
      const failure = classifyFailure(error, { onLine: this.#env.navigator?.onLine !== false });
      if (failure.kind === 'refused') {
        // A refused refresh may only mean another tab rotated the token first (no Web Locks,
        // or a tab that woke up late). If that tab succeeded, this one lost a race: not a failure.
        const winner = await this.#sync.waitForSuccessSince(startedAt, this.#options.raceSettleMs);
        if (winner) {
          this.#adopt(winner);
          return;
        }
      }
      this.#fail(failure, trigger);
      return;
    }
    if (!this.#started) return;
    const now = this.#env.now();
    let expiresAt;
    try {
      expiresAt = resolveExpiry(result, now);
    } catch {
      this.#fail({ kind: 'server', reason: 'other', status: null, detail: 'invalid_result' }, trigger);
      return;
    }
    const record = this.#succeed(expiresAt, now, result?.shared);
    await this.#sync.markRenewal(renewedFrom, record);
  }

  async #callRefresh() {
    const timeoutMs = this.#options.timeoutMs;
    const controller = typeof AbortController === 'function' ? new AbortController() : null;
    let timer = null;
    const timeout = new Promise((_, reject) => {
      timer = this.#env.setTimeout(() => {
        const error = new Error(`refresh timed out after ${timeoutMs} ms`);
        error.name = 'TimeoutError';
        controller?.abort(error);
        reject(error);
      }, timeoutMs);
    });
    try {
      const call = Promise.resolve().then(() => this.#options.refresh({ signal: controller?.signal }));
      return await Promise.race([call, timeout]);
    } finally {
      this.#env.clearTimeout(timer);
    }
  }

  #succeed(expiresAt, now, shared) {
    this.#lastAttemptEndedAt = now;
    this.#update({
      expiresAt,
      learnedAt: now,
      ...NO_PROBLEM,
    });
    const record = this.#sync.publish(
      { outcome: 'success', attemptEndedAt: now, expiresAt, learnedAt: now, shared });
    this.#emit('refreshed', { expiresAt, remote: false });
    this.#flushEvents();
    this.#schedule();
    return record;
  }

  #fail(failure, trigger) {
    const now = this.#env.now();
    const attempt = this.#state.attempt + 1;
    const nextRetryAt = failure.kind === 'refused' ? null
      : now + computeBackoff(attempt, this.#options, this.#env.random);
    this.#lastAttemptEndedAt = now;
    // One event per stretch of network failures: retries of the same refresh are not new
    // failures. A timeout is left out, because the server may have received that request.
    const unseen = UNSEEN_BY_SERVER.has(failure.detail) && this.#state.problem !== 'network';
    if (failure.kind === 'network' && unseen && this.#queue) {
      this.#queue.push({
        type: 'refresh_failed',
        reason: 'network',
        detail: failure.detail,
        occurred_at: now / 1000,
      });
    }
    const problem = {
      problem: failure.kind,
      reason: failure.reason,
      detail: failure.detail,
      status: failure.status,
      problemSince: this.#state.problemSince ?? now,
      attempt,
      nextRetryAt,
    };
    this.#update(problem);
    this.#sync.publish({
      outcome: 'failure', attemptEndedAt: now, expiresAt: this.#state.expiresAt,
      learnedAt: this.#state.learnedAt, ...problem,
    });
    this.#emit('failed', { ...failure, at: now, attempt, nextRetryAt, trigger: trigger ?? null });
  }

  /**
   * Take another tab's record. With `resume` (a page that starts), a record about the token
   * this page was given is taken as it is, older or not. It gives when the token was learned
   * and whether a problem is still going on, which a reload must not hide.
   */
  #adopt(record, { resume = false } = {}) {
    if (!record || record.tabId === this.tabId) return;
    const endedAt = record.attemptEndedAt ?? 0;
    const newer = endedAt > this.#lastAttemptEndedAt;
    const success = record.outcome === 'success' && Number.isFinite(record.expiresAt);
    const current = this.#state.expiresAt;
    const sameToken = resume && current !== null && Number.isFinite(record.expiresAt) &&
      Math.abs(record.expiresAt - current) <= SAME_TOKEN_MS;
    // A success that extends the expiry is always taken. Anything else is taken only when it is
    // newer than what this tab last did or learned, so a stale record never raises a banner.
    const extendsExpiry = success && (current === null || record.expiresAt > current);
    if (!newer && !extendsExpiry && !sameToken) return;
    this.#lastAttemptEndedAt = sameToken ? endedAt : Math.max(this.#lastAttemptEndedAt, endedAt);
    if (sameToken) {
      // Other tabs key their renewal marks by the exact expiry: use theirs.
      this.#update({
        expiresAt: record.expiresAt,
        learnedAt: Number.isFinite(record.learnedAt) ? record.learnedAt : this.#state.learnedAt,
      });
    }
    if (success) {
      this.#update({
        expiresAt: record.expiresAt,
        learnedAt: record.learnedAt ?? endedAt,
        ...NO_PROBLEM,
      });
      this.#emit('refreshed', { expiresAt: record.expiresAt, remote: true });
      this.#options.onRemoteRefresh?.(record.shared);
    } else if (record.outcome === 'failure') {
      this.#update({
        problem: record.problem,
        reason: record.reason ?? null,
        detail: record.detail ?? null,
        status: record.status ?? null,
        problemSince: record.problemSince ?? endedAt,
        attempt: record.attempt ?? 1,
        nextRetryAt: record.nextRetryAt ?? null,
      });
    }
    this.#schedule();
  }

  async #flushEvents() {
    if (!this.#queue || !this.#started || this.#queue.pending().length === 0) return;
    const outcome = await this.#queue.flush();
    this.#emit('change');
    this.#env.clearTimeout(this.#eventsTimer);
    this.#eventsTimer = null;
    if (outcome === 'retry' && this.#started) {
      this.#eventsTimer = this.#env.setTimeout(() => this.#flushEvents(), this.#options.eventsRetryMs);
    }
    // 'auth' waits for the next successful refresh, which calls this again.
  }

  #update(patch) {
    let changed = false;
    for (const [key, value] of Object.entries(patch)) {
      if (this.#state[key] !== value) {
        this.#state[key] = value;
        changed = true;
      }
    }
    if (changed) this.#emit('change');
  }

  #emit(type, detail = this.state) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
