// Queue of client-side refresh failures that the server never saw (the request did not reach
// it). Events wait in localStorage, so a reload or a crash loses none, and are sent in batches
// to the client-events endpoint once the network is back and the session is valid again.
// Each event carries a random id: the endpoint counts an id once, so a batch whose response
// was lost can be sent again safely.

const ID_PATTERN = /^[A-Za-z0-9-]{8,64}$/;

function readList(storage, key) {
  try {
    const parsed = JSON.parse(storage?.getItem(key) ?? '[]');
    return Array.isArray(parsed) ? parsed.filter((event) => ID_PATTERN.test(event?.id ?? '')) : [];
  } catch {
    return [];
  }
}

function storageWorks(storage, key) {
  try {
    const probe = `${key}:probe`;
    storage.setItem(probe, '1');
    storage.removeItem(probe);
    return true;
  } catch {
    return false;
  }
}

/** Return a random id for an event: a UUID where the browser offers one, 32 hex digits otherwise. */
export function randomEventId(cryptoImpl, random) {
  if (typeof cryptoImpl?.randomUUID === 'function') return cryptoImpl.randomUUID();
  const bytes = new Uint8Array(16);
  if (typeof cryptoImpl?.getRandomValues === 'function') {
    cryptoImpl.getRandomValues(bytes);
  } else {
    for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(random() * 256);
  }
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

export class ClientEventQueue {
  /**
   * @param {object} options
   * @param {string} options.url client-events endpoint.
   * @param {() => Record<string, string>} [options.headers] authentication headers, read per send.
   * @param {number} options.maxEvents events kept; the oldest are dropped past this.
   * @param {number} options.batchSize events per request (the endpoint's own cap or less).
   * @param {string} options.storageKey localStorage key.
   * @param {object} options.env clock, fetch, storage, crypto, random.
   */
  constructor({ url, headers, maxEvents, batchSize, storageKey, env }) {
    this.url = url;
    this.headers = headers ?? (() => ({}));
    this.maxEvents = maxEvents;
    this.batchSize = batchSize;
    this.key = storageKey;
    this.env = env;
    this.memory = [];
    this.dropped = 0;
    this.rejected = 0;
    this.sending = null;
    this.useStorage = storageWorks(env.storage, storageKey);
  }

  pending() {
    return this.useStorage ? readList(this.env.storage, this.key) : [...this.memory];
  }

  push(fields) {
    const event = { id: randomEventId(this.env.crypto, this.env.random), ...fields };
    const events = [...this.pending(), event];
    const overflow = Math.max(0, events.length - this.maxEvents);
    this.dropped += overflow;
    this.#save(events.slice(overflow));
    return event;
  }

  /**
   * Send every pending event, one batch per request. Returns 'sent' when the queue is empty,
   * 'retry' when the endpoint or network should be tried again later, and 'auth' when the
   * session must be renewed first. Concurrent calls share one run.
   */
  flush() {
    if (!this.sending) {
      this.sending = this.#flushAll().finally(() => {
        this.sending = null;
      });
    }
    return this.sending;
  }

  async #flushAll() {
    for (;;) {
      const batch = this.pending().slice(0, this.batchSize);
      if (batch.length === 0) return 'sent';
      const outcome = await this.#send(batch);
      if (outcome === 'retry' || outcome === 'auth') return outcome;
      // 'accepted' and 'rejected' both remove the batch: a rejected batch would be rejected
      // again, and keeping it would block every later event.
      this.#remove(batch.map((event) => event.id));
    }
  }

  async #send(batch) {
    let response;
    try {
      response = await this.env.fetch(this.url, {
        method: 'POST',
        keepalive: true,
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', ...this.headers() },
        body: JSON.stringify({ events: batch, sent_at: this.env.now() / 1000 }),
      });
    } catch {
      return 'retry';
    }
    if (response.ok) return 'accepted';
    if (response.status === 401 || response.status === 403) return 'auth';
    if (response.status === 408 || response.status === 429 || response.status >= 500) return 'retry';
    this.rejected += batch.length;
    return 'rejected';
  }

  #remove(ids) {
    const gone = new Set(ids);
    this.#save(this.pending().filter((event) => !gone.has(event.id)));
  }

  #save(events) {
    if (this.useStorage) {
      try {
        this.env.storage.setItem(this.key, JSON.stringify(events));
        return;
      } catch {
        // Quota exceeded: keep the events in memory for the rest of this tab's life.
        this.useStorage = false;
      }
    }
    this.memory = events;
  }
}
