// Cross-tab coordination for the session keeper: one exclusive lock so only one tab refreshes
// at a time, and one shared record of the last refresh attempt that every tab can read.
//
// Preferred mechanisms: Web Locks for the lock, BroadcastChannel for the news, localStorage
// for the record a tab reads when it starts or takes the lock. Web Locks exist only in secure
// contexts, so a plain-http LAN origin falls back to a lease written in localStorage and to
// `storage` events. When storage is unavailable too (private mode, quota), the tab works
// alone. Every fallback is chosen by feature detection and never throws into the keeper.
//
// Storage and channel news travel apart from the lock: a tab may be granted the lock before
// the record of the tab that just released it reaches it. So a tab that renews the token also
// takes a "renewal mark", a second lock whose name carries the outcome, and keeps it a while.
// The origin's lock manager grants locks and returns `query()` snapshots from one state, so
// the next owner of the refresh lock finds that mark, however late the record is.

const LEASE_SETTLE_MS = 60;
const LEASE_POLL_MS = 200;
// How long a renewal mark stays held: far longer than news takes between two tabs, short
// enough that a page rarely holds a lock (a held lock keeps it out of the back/forward cache).
const MARK_HOLD_MS = 20_000;
// Fields of a record that a renewal mark carries. The host's `shared` value stays out of it.
const MARK_FIELDS = ['outcome', 'attemptEndedAt', 'expiresAt', 'learnedAt', 'tabId', 'seq'];

function safeParse(text) {
  if (typeof text !== 'string') return null;
  try {
    const value = JSON.parse(text);
    return value && typeof value === 'object' ? value : null;
  } catch {
    return null;
  }
}

export class TabSync {
  /**
   * @param {object} options
   * @param {string} options.name namespace shared by the tabs of one app and session.
   * @param {string} options.tabId this tab's random id.
   * @param {object} options.env clock, timers, storage, locks, BroadcastChannel, window.
   * @param {number} options.leaseMs how long a fallback lease is valid without renewal.
   * @param {number} [options.markMs] how long a renewal mark is held.
   */
  constructor({ name, tabId, env, leaseMs, markMs = MARK_HOLD_MS }) {
    this.tabId = tabId;
    this.env = env;
    this.leaseMs = leaseMs;
    this.markMs = markMs;
    this.prefix = `session-keeper:${name}`;
    this.stateKey = `${this.prefix}:state`;
    this.leaseKey = `${this.prefix}:lease`;
    this.lockName = `${this.prefix}:refresh`;
    this.markPrefix = `${this.prefix}:renewed:`;
    this.releaseMark = null;
    this.channel = null;
    this.last = null;
    this.onRecord = null;
    this.waiters = new Set();
    this.seq = 0;
    this.storageListener = (event) => this.#onStorage(event);
  }

  /** Mechanisms in use, for tests and diagnostics. */
  get mechanisms() {
    return {
      lock: this.#webLocks() ? 'web-locks' : this.#storageWorks() ? 'storage-lease' : 'none',
      channel: this.channel ? 'broadcast-channel' : this.#storageWorks() ? 'storage-event' : 'none',
    };
  }

  open(onRecord) {
    this.onRecord = onRecord;
    const Channel = this.env.BroadcastChannel;
    if (typeof Channel === 'function') {
      try {
        this.channel = new Channel(this.prefix);
        this.channel.onmessage = (event) => this.#receive(event.data);
      } catch {
        this.channel = null;
      }
    }
    this.env.window?.addEventListener?.('storage', this.storageListener);
  }

  close() {
    this.env.window?.removeEventListener?.('storage', this.storageListener);
    try {
      this.channel?.close();
    } catch {
      // Closing an already closed channel is harmless.
    }
    this.channel = null;
    this.onRecord = null;
    this.releaseMark?.();
    for (const waiter of this.waiters) waiter(null);
    this.waiters.clear();
  }

  /** Return the newest record known to this tab: storage when readable, else the last message. */
  read() {
    const stored = safeParse(this.#storageGet(this.stateKey));
    if (stored && (!this.last || (stored.attemptEndedAt ?? 0) >= (this.last.attemptEndedAt ?? 0))) {
      return stored;
    }
    return this.last;
  }

  /** Remove the stored record (logout). */
  forget() {
    this.last = null;
    this.#storageRemove(this.stateKey);
  }

  /** Store a record, tell the other tabs, and return the record as sent. */
  publish(record) {
    this.seq += 1;
    const full = { ...record, tabId: this.tabId, seq: this.seq };
    this.last = full;
    this.#storageSet(this.stateKey, JSON.stringify(full));
    try {
      this.channel?.postMessage(full);
    } catch {
      // A closed or broken channel leaves the storage event as the messenger.
    }
    return full;
  }

  /**
   * Take a renewal mark for `markMs`: a lock whose name states that the token expiring at
   * `fromExpiresAt` was renewed, with the outcome `record`. It replaces this tab's previous
   * mark. Call it inside the refresh lock. It resolves once the mark is granted, and does
   * nothing without Web Locks.
   */
  async markRenewal(fromExpiresAt, record) {
    const locks = this.#webLocks();
    if (!locks || typeof locks.query !== 'function' || !Number.isFinite(fromExpiresAt)) return;
    this.releaseMark?.();
    const summary = Object.fromEntries(MARK_FIELDS.map((field) => [field, record[field]]));
    const name = `${this.markPrefix}${fromExpiresAt} ${JSON.stringify(summary)}`;
    let release;
    const held = new Promise((resolve) => {
      release = resolve;
    });
    const timer = this.env.setTimeout(() => release(), this.markMs);
    this.releaseMark = () => {
      this.env.clearTimeout(timer);
      release();
      this.releaseMark = null;
    };
    await new Promise((granted) => {
      Promise.resolve()
        .then(() => locks.request(name, { ifAvailable: true }, () => {
          granted();
          return held;
        }))
        // An opaque origin or a closed document gets no mark, and the record is the only news.
        .catch(() => {})
        .finally(granted);
    });
  }

  /**
   * Return the outcome of another tab's renewal of the token expiring at `fromExpiresAt`, read
   * from that tab's renewal mark, or null when there is no such mark.
   */
  async findRenewal(fromExpiresAt) {
    const locks = this.#webLocks();
    if (!locks || typeof locks.query !== 'function' || !Number.isFinite(fromExpiresAt)) return null;
    let held;
    try {
      ({ held = [] } = await locks.query());
    } catch {
      return null;
    }
    const prefix = `${this.markPrefix}${fromExpiresAt} `;
    for (const lock of held) {
      if (typeof lock?.name !== 'string' || !lock.name.startsWith(prefix)) continue;
      const record = safeParse(lock.name.slice(prefix.length));
      if (record && record.tabId !== this.tabId && record.outcome === 'success' &&
          Number.isFinite(record.expiresAt) && record.expiresAt > fromExpiresAt) {
        return record;
      }
    }
    return null;
  }

  /**
   * Wait up to `timeoutMs` for another tab's successful attempt that ended at or after `since`.
   * Returns that record or null.
   */
  waitForSuccessSince(since, timeoutMs) {
    const matches = (record) =>
      record && record.tabId !== this.tabId && record.outcome === 'success' &&
      (record.attemptEndedAt ?? 0) >= since;
    const current = this.read();
    if (matches(current)) return Promise.resolve(current);
    return new Promise((resolve) => {
      let timer = null;
      const waiter = (record) => {
        if (record !== null && !matches(record)) return;
        this.waiters.delete(waiter);
        this.env.clearTimeout(timer);
        resolve(record);
      };
      timer = this.env.setTimeout(() => waiter(null), timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Run `task` while holding the cross-tab refresh lock, with the best mechanism available. */
  async withLock(task) {
    const locks = this.#webLocks();
    if (locks) {
      try {
        return await locks.request(this.lockName, { mode: 'exclusive' }, () => task());
      } catch (error) {
        // A SecurityError (opaque origin) comes before the task ran; anything else is the task's.
        if (error?.name !== 'SecurityError') throw error;
      }
    }
    if (this.#storageWorks()) return this.#withLease(task);
    return task();
  }

  #webLocks() {
    const locks = this.env.locks;
    return locks && typeof locks.request === 'function' ? locks : null;
  }

  // NOTE: localStorage has no compare-and-set, so two tabs that wake in the same instant may
  // both take the lease and refresh once each. A server that accepts the previous token for a
  // short grace (as the demo does) absorbs that; Web Locks do not have the problem.
  async #withLease(task) {
    const deadline = this.env.now() + this.leaseMs;
    for (;;) {
      const lease = safeParse(this.#storageGet(this.leaseKey));
      const now = this.env.now();
      const free = !lease || lease.owner === this.tabId || !(lease.until > now);
      if (free) {
        this.#storageSet(this.leaseKey, JSON.stringify({ owner: this.tabId, until: now + this.leaseMs }));
        // Two tabs may both have seen a free lease; the later write wins, the other backs off.
        await this.#sleep(LEASE_SETTLE_MS);
        if (safeParse(this.#storageGet(this.leaseKey))?.owner === this.tabId) break;
      } else if (now >= deadline) {
        // The owner kept the lease past its own validity: treat it as a closed tab.
        break;
      }
      await this.#sleep(LEASE_POLL_MS + Math.floor(this.env.random() * LEASE_POLL_MS));
    }
    try {
      return await task();
    } finally {
      if (safeParse(this.#storageGet(this.leaseKey))?.owner === this.tabId) {
        this.#storageRemove(this.leaseKey);
      }
    }
  }

  #sleep(ms) {
    return new Promise((resolve) => this.env.setTimeout(resolve, ms));
  }

  #onStorage(event) {
    if (event.key !== this.stateKey || !event.newValue) return;
    this.#receive(safeParse(event.newValue));
  }

  #receive(record) {
    if (!record || typeof record !== 'object' || record.tabId === this.tabId) return;
    // With BroadcastChannel, the storage event brings the same record a second time.
    if (this.last && record.tabId === this.last.tabId && record.seq === this.last.seq) return;
    if (this.last && (record.attemptEndedAt ?? 0) < (this.last.attemptEndedAt ?? 0)) return;
    this.last = record;
    for (const waiter of [...this.waiters]) waiter(record);
    this.onRecord?.(record);
  }

  #storageWorks() {
    const storage = this.env.storage;
    if (!storage) return false;
    try {
      const probe = `${this.prefix}:probe`;
      storage.setItem(probe, '1');
      storage.removeItem(probe);
      return true;
    } catch {
      return false;
    }
  }

  #storageGet(key) {
    try {
      return this.env.storage?.getItem(key) ?? null;
    } catch {
      return null;
    }
  }

  #storageSet(key, value) {
    try {
      this.env.storage?.setItem(key, value);
    } catch {
      // Quota or privacy settings: the BroadcastChannel message still carries the news.
    }
  }

  #storageRemove(key) {
    try {
      this.env.storage?.removeItem(key);
    } catch {
      // Nothing to clean up when storage is unusable.
    }
  }
}
