/**
 * HTTP client for the exporter's admin session endpoints
 * (`<base>/metrics`, `<base>/top-errors`, `<base>/timeseries`).
 *
 * Authentication is either the page's cookies (`credentials`) or a bearer token returned by the
 * host's `tokenProvider`, called before every request so that a host can rotate tokens.
 */

const DETAIL_MAX_LENGTH = 300;

/** Failure of one request, classified so that the widget can say what went wrong. */
export class MetricsRequestError extends Error {
  /**
   * @param {string} kind one of unreachable, timeout, unauthorized, forbidden, unavailable,
   *   invalid-request, http, invalid-response, token
   */
  constructor(kind, { status = null, detail = null, cause } = {}) {
    super(status ? `${kind} (HTTP ${status})` : kind, cause ? { cause } : undefined);
    this.name = 'MetricsRequestError';
    this.kind = kind;
    this.status = status;
    this.detail = detail;
  }
}

export class MetricsClient {
  /**
   * @param {{baseUrl: string, credentials: RequestCredentials,
   *   tokenProvider: (() => unknown) | null, timeoutMs: number}} options
   */
  constructor({ baseUrl, credentials, tokenProvider, timeoutMs }) {
    this.baseUrl = String(baseUrl).replace(/\/+$/, '');
    this.credentials = credentials;
    this.tokenProvider = tokenProvider;
    this.timeoutMs = timeoutMs;
  }

  metrics(windowName, signal) {
    return this.#getJson('metrics', { window: windowName }, signal);
  }

  timeseries(windowName, signal) {
    return this.#getJson('timeseries', { window: windowName }, signal);
  }

  topErrors({ by, window, limit, offset }, signal) {
    return this.#getJson('top-errors', { by, window, limit, offset }, signal);
  }

  async #getJson(path, params, signal) {
    const url = new URL(`${this.baseUrl}/${path}`, document.baseURI);
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, String(value));

    const headers = { Accept: 'application/json' };
    const token = await this.#token();
    if (token) headers.Authorization = `Bearer ${token}`;

    const response = await this.#fetchWithTimeout(url, headers, signal);
    if (!response.ok) throw await errorFromResponse(response);
    try {
      return await response.json();
    } catch (cause) {
      throw new MetricsRequestError('invalid-response', { status: response.status, cause });
    }
  }

  async #token() {
    if (typeof this.tokenProvider !== 'function') return null;
    let token;
    try {
      token = await this.tokenProvider();
    } catch (cause) {
      throw new MetricsRequestError('token', { cause });
    }
    if (token === null || token === undefined || token === '') return null;
    // A header value with a line break would make fetch throw a TypeError that reads like a
    // network failure, so reject it here with the right kind.
    if (typeof token !== 'string' || /[\r\n]/.test(token)) throw new MetricsRequestError('token');
    return token.trim();
  }

  async #fetchWithTimeout(url, headers, signal) {
    const controller = new AbortController();
    let timedOut = false;
    const onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.timeoutMs);

    try {
      return await fetch(url, {
        headers,
        credentials: this.credentials,
        cache: 'no-store',
        signal: controller.signal,
      });
    } catch (cause) {
      if (signal?.aborted) throw cause;
      throw new MetricsRequestError(timedOut ? 'timeout' : 'unreachable', { cause });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

const KIND_BY_STATUS = {
  401: 'unauthorized',
  403: 'forbidden',
  422: 'invalid-request',
  503: 'unavailable',
};

async function errorFromResponse(response) {
  const kind = KIND_BY_STATUS[response.status] || 'http';
  let detail = null;
  try {
    const body = await response.json();
    detail = detailText(body?.detail);
  } catch {
    // A body that is not JSON still leaves the status, which is enough to explain the error.
  }
  return new MetricsRequestError(kind, { status: response.status, detail });
}

// FastAPI sends a string for errors raised by the app and a list of {msg} for validation errors.
function detailText(detail) {
  let text = null;
  if (typeof detail === 'string') text = detail;
  if (Array.isArray(detail))
    text = detail
      .map((item) => item?.msg)
      .filter(Boolean)
      .join('; ');
  return text ? text.slice(0, DETAIL_MAX_LENGTH) : null;
}
