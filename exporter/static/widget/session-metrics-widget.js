/**
 * <session-metrics-widget>: the admin view of sessionwatch's session health.
 *
 * Attributes are the source of truth and are reflected by the properties below. The element
 * fetches `<base-url>/metrics`, `/timeseries` and `/top-errors` on connect, then every
 * `refresh-interval` seconds while the document is visible. A failed refresh keeps the last
 * good figures on screen, marked stale, and retries on the same schedule.
 */

import { MetricsClient } from './client.js';
import { createFormatter } from './format.js';
import { formatMessage, resolveMessages } from './messages.js';
import { isEmptyWindow, parseMetrics, parseTimeseries, parseTopErrors } from './model.js';
import { isAboveThreshold, renderChart, renderKpis, renderSites, renderTop } from './render.js';
import { css } from './styles.js';
import { RANKINGS, WINDOWS, applyHeadingLevel, applyTexts, buildTemplate } from './template.js';

const EVENT_PREFIX = 'session-metrics-widget:';
const DEFAULTS = {
  baseUrl: '/v1/admin/sessions',
  window: '15m',
  refreshInterval: 30,
  pageSize: 10,
  credentials: 'same-origin',
  headingLevel: 2,
};
const MIN_REFRESH_INTERVAL = 5;
const MAX_PAGE_SIZE = 100;
const CREDENTIALS = ['include', 'same-origin', 'omit'];
const REQUEST_TIMEOUT_MS = 10_000;

let sharedSheet = null;

function adoptStyles(shadowRoot) {
  if ('adoptedStyleSheets' in Document.prototype && 'replaceSync' in CSSStyleSheet.prototype) {
    // A constructed sheet is shared by all instances and is not subject to a CSP style-src rule.
    sharedSheet ??= new CSSStyleSheet();
    if (sharedSheet.cssRules.length === 0) sharedSheet.replaceSync(css);
    shadowRoot.adoptedStyleSheets = [sharedSheet];
  } else {
    const style = document.createElement('style');
    style.textContent = css;
    shadowRoot.append(style);
  }
}

function integerAttribute(raw, { min, max, fallback, allowZero = false }) {
  if (raw === null || !/^\s*\d+\s*$/.test(raw)) return fallback;
  const value = Number(raw);
  if (allowZero && value === 0) return 0;
  return value >= min && value <= max ? value : fallback;
}

export class SessionMetricsWidgetElement extends HTMLElement {
  static get observedAttributes() {
    return [
      'base-url',
      'lang',
      'window',
      'refresh-interval',
      'page-size',
      'credentials',
      'heading-level',
    ];
  }

  #ui = null;
  #tokenProvider = null;
  #messageOverrides = null;
  #t = resolveMessages('fr');
  #fmt = createFormatter('fr');
  #listeners = null;
  #resizeObserver = null;
  #chartWidth = 0;

  #status = 'loading';
  #error = null;
  #metrics = null;
  #series = null;
  #top = null;
  #ranking = 'ip';
  #offset = 0;

  #timer = null;
  #lastAttemptAt = 0;
  #fullLoad = null;
  #topLoad = null;
  #topSequence = 0;
  #announceNextUpdate = false;

  constructor() {
    super();
    this.attachShadow({ mode: 'open' });
    adoptStyles(this.shadowRoot);
  }

  // ---- Reflected attributes -------------------------------------------------------------

  get baseUrl() {
    return this.getAttribute('base-url')?.trim() || DEFAULTS.baseUrl;
  }

  set baseUrl(value) {
    this.setAttribute('base-url', String(value));
  }

  /** Time window ("5m", "15m", "1h", "24h" or "7d"), reflected from the `window` attribute. */
  get timeWindow() {
    const value = this.getAttribute('window');
    return WINDOWS.includes(value) ? value : DEFAULTS.window;
  }

  set timeWindow(value) {
    if (!WINDOWS.includes(value)) {
      throw new RangeError(`Invalid window '${value}': expected one of ${WINDOWS.join(', ')}.`);
    }
    this.setAttribute('window', value);
  }

  /** Seconds between automatic refreshes; 0 turns them off. Values below 5 fall back to 30. */
  get refreshInterval() {
    return integerAttribute(this.getAttribute('refresh-interval'), {
      min: MIN_REFRESH_INTERVAL,
      max: 86_400,
      fallback: DEFAULTS.refreshInterval,
      allowZero: true,
    });
  }

  set refreshInterval(value) {
    this.setAttribute('refresh-interval', String(value));
  }

  /** Rows per page of the top-errors ranking, 1 to 100. */
  get pageSize() {
    return integerAttribute(this.getAttribute('page-size'), {
      min: 1,
      max: MAX_PAGE_SIZE,
      fallback: DEFAULTS.pageSize,
    });
  }

  set pageSize(value) {
    this.setAttribute('page-size', String(value));
  }

  get credentials() {
    const value = this.getAttribute('credentials');
    return CREDENTIALS.includes(value) ? value : DEFAULTS.credentials;
  }

  set credentials(value) {
    if (!CREDENTIALS.includes(value)) {
      throw new RangeError(
        `Invalid credentials '${value}': expected one of ${CREDENTIALS.join(', ')}.`,
      );
    }
    this.setAttribute('credentials', value);
  }

  /** Level of the widget's title heading (1 to 5); section headings are one level below. */
  get headingLevel() {
    return integerAttribute(this.getAttribute('heading-level'), {
      min: 1,
      max: 5,
      fallback: DEFAULTS.headingLevel,
    });
  }

  set headingLevel(value) {
    this.setAttribute('heading-level', String(value));
  }

  // ---- Properties ------------------------------------------------------------------------

  /** Async function returning the bearer token to send, or null to rely on `credentials`. */
  get tokenProvider() {
    return this.#tokenProvider;
  }

  set tokenProvider(value) {
    if (value !== null && value !== undefined && typeof value !== 'function') {
      throw new TypeError(
        'tokenProvider must be a function returning a token (or a promise of one), or null.',
      );
    }
    this.#tokenProvider = value ?? null;
    if (this.#listeners) this.refresh();
  }

  /** Host overrides of the displayed strings, by language: `{ fr: {...}, en: {...} }`. */
  get messages() {
    return this.#messageOverrides;
  }

  set messages(value) {
    this.#messageOverrides = value && typeof value === 'object' ? value : null;
    this.#applyLanguage();
  }

  /** Fetches everything now; resolves when the widget has rendered the result or the error. */
  refresh() {
    return this.#loadAll();
  }

  // ---- Lifecycle -------------------------------------------------------------------------

  connectedCallback() {
    this.#upgradeProperty('tokenProvider');
    this.#upgradeProperty('messages');
    if (!this.#ui) {
      this.#ui = buildTemplate(this.shadowRoot);
      applyHeadingLevel(this.#ui, this.headingLevel);
    }
    this.#listeners = new AbortController();
    this.#listen(this.#listeners.signal);

    this.#applyLanguage();
    this.#syncControls();
    this.#setStatus(this.#metrics ? this.#status : 'loading');

    const due = Date.now() - this.#lastAttemptAt >= this.refreshInterval * 1000;
    if (!this.#metrics || due) this.#loadAll();
    else this.#scheduleNext();
  }

  disconnectedCallback() {
    this.#listeners?.abort();
    this.#listeners = null;
    this.#resizeObserver?.disconnect();
    this.#resizeObserver = null;
    clearTimeout(this.#timer);
    this.#timer = null;
    this.#fullLoad?.abort();
    this.#topLoad?.abort();
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue === newValue || !this.#ui || !this.#listeners) return;
    switch (name) {
      case 'lang':
        this.#applyLanguage();
        break;
      case 'window':
        this.#offset = 0;
        this.#syncControls();
        this.#loadAll();
        break;
      case 'page-size':
        this.#offset = 0;
        this.#loadTop();
        break;
      case 'refresh-interval':
        this.#renderMeta();
        this.#scheduleNext();
        break;
      case 'heading-level':
        applyHeadingLevel(this.#ui, this.headingLevel);
        break;
      default:
        this.#loadAll();
    }
  }

  #listen(signal) {
    const options = { signal };
    const ui = this.#ui;

    document.addEventListener('visibilitychange', () => this.#onVisibilityChange(), options);
    ui.windowSwitch.root.addEventListener(
      'change',
      (event) => this.#onWindowPicked(event),
      options,
    );
    ui.rankingSwitch.root.addEventListener(
      'change',
      (event) => this.#onRankingPicked(event),
      options,
    );
    ui.refreshButton.addEventListener('click', () => this.#userRefresh(), options);
    ui.retryButton.addEventListener('click', () => this.#userRefresh(), options);
    ui.previousButton.addEventListener(
      'click',
      () => this.#goToPage(Math.max(0, this.#offset - this.pageSize)),
      options,
    );
    // Pages follow the requested offset, not the last page received, so that two quick
    // presses move two pages.
    ui.nextButton.addEventListener(
      'click',
      () => this.#goToPage(this.#offset + this.pageSize),
      options,
    );

    this.#resizeObserver = new ResizeObserver(() => this.#onResize());
    this.#resizeObserver.observe(ui.chart);
  }

  #upgradeProperty(name) {
    // A property set before the element was defined shadows the class accessor; move it over.
    if (Object.hasOwn(this, name)) {
      const value = this[name];
      delete this[name];
      this[name] = value;
    }
  }

  // ---- Loading ---------------------------------------------------------------------------

  #client() {
    return new MetricsClient({
      baseUrl: this.baseUrl,
      credentials: this.credentials,
      tokenProvider: this.#tokenProvider,
      timeoutMs: REQUEST_TIMEOUT_MS,
    });
  }

  async #loadAll() {
    if (!this.#ui) return;
    this.#fullLoad?.abort();
    const controller = new AbortController();
    this.#fullLoad = controller;
    const topSequence = ++this.#topSequence;
    this.#topLoad?.abort();
    clearTimeout(this.#timer);
    this.#lastAttemptAt = Date.now();
    this.#ui.card.setAttribute('aria-busy', 'true');

    const client = this.#client();
    const selected = this.timeWindow;
    const query = { by: this.#ranking, window: selected, limit: this.pageSize, offset: this.#offset };
    try {
      const [metricsBody, seriesBody, topBody] = await Promise.all([
        client.metrics(selected, controller.signal),
        client.timeseries(selected, controller.signal),
        client.topErrors(query, controller.signal),
      ]);
      const metrics = parseMetrics(metricsBody);
      const series = parseTimeseries(seriesBody);
      const top = parseTopErrors(topBody);
      if (controller.signal.aborted) return;

      this.#metrics = metrics;
      this.#series = series;
      if (topSequence === this.#topSequence) this.#top = top;
      this.#onLoaded({ metrics: metricsBody, timeseries: seriesBody, topErrors: topBody });
    } catch (error) {
      if (controller.signal.aborted) return;
      this.#onFailed(error);
    } finally {
      if (this.#fullLoad === controller) {
        this.#fullLoad = null;
        this.#ui.card.removeAttribute('aria-busy');
        this.#scheduleNext();
      }
    }
  }

  async #loadTop() {
    this.#topLoad?.abort();
    const controller = new AbortController();
    this.#topLoad = controller;
    const sequence = ++this.#topSequence;
    this.#ui.topSection.setAttribute('aria-busy', 'true');

    const query = {
      by: this.#ranking,
      window: this.timeWindow,
      limit: this.pageSize,
      offset: this.#offset,
    };
    try {
      const top = parseTopErrors(await this.#client().topErrors(query, controller.signal));
      if (sequence !== this.#topSequence) return;
      if (top.items.length === 0 && top.offset > 0) {
        // The ranking shrank since the last page was read: start again from its first page.
        this.#offset = 0;
        this.#loadTop();
        return;
      }
      this.#top = top;
      this.#renderTop();
      if (this.#status === 'stale' || this.#status === 'error') this.#loadAll();
    } catch (error) {
      if (controller.signal.aborted || sequence !== this.#topSequence) return;
      this.#onFailed(error);
    } finally {
      if (this.#topLoad === controller) {
        this.#topLoad = null;
        this.#ui.topSection.removeAttribute('aria-busy');
      }
    }
  }

  #onLoaded(bodies) {
    const recovered = this.#status === 'stale' || this.#status === 'error';
    this.#error = null;
    this.#setStatus(isEmptyWindow(this.#metrics) ? 'empty' : 'ready');
    this.#renderAll();

    if (recovered) this.#announce(this.#t.announceRecovered);
    else if (this.#announceNextUpdate) {
      const windowLong = this.#t[`windowLong.${this.timeWindow}`];
      this.#announce(formatMessage(this.#t.announceUpdated, { window: windowLong }));
    }
    this.#announceNextUpdate = false;
    this.#emit('updated', {
      window: this.timeWindow,
      aboveThreshold: isAboveThreshold(this.#metrics),
      ...bodies,
    });
  }

  #onFailed(error) {
    const kind = error?.kind ?? 'invalid-response';
    const wasFailing = this.#status === 'stale' || this.#status === 'error';
    this.#error = { kind, status: error?.status ?? null, detail: error?.detail ?? null };
    this.#setStatus(this.#metrics ? 'stale' : 'error');
    this.#renderMeta();
    this.#renderBanner();
    if (!wasFailing)
      this.#announce(`${this.#ui.bannerTitle.textContent}. ${this.#ui.bannerText.textContent}`);
    this.#announceNextUpdate = false;
    this.#emit('error', { ...this.#error, stale: this.#status === 'stale' });
  }

  #scheduleNext() {
    clearTimeout(this.#timer);
    this.#timer = null;
    const intervalMs = this.refreshInterval * 1000;
    if (!this.#listeners || intervalMs === 0 || document.visibilityState === 'hidden') return;
    const wait = Math.max(0, this.#lastAttemptAt + intervalMs - Date.now());
    this.#timer = setTimeout(() => this.#loadAll(), wait);
  }

  #onVisibilityChange() {
    if (document.visibilityState === 'hidden') {
      clearTimeout(this.#timer);
      this.#timer = null;
      return;
    }
    const intervalMs = this.refreshInterval * 1000;
    if (intervalMs > 0 && Date.now() - this.#lastAttemptAt >= intervalMs && !this.#fullLoad)
      this.#loadAll();
    else this.#scheduleNext();
  }

  // ---- User actions ----------------------------------------------------------------------

  #userRefresh() {
    this.#announceNextUpdate = true;
    this.#loadAll();
  }

  #onWindowPicked(event) {
    const value = event.target.value;
    if (!WINDOWS.includes(value) || value === this.timeWindow) return;
    if (!this.#emit('window-change', { window: value, previousWindow: this.timeWindow }, true)) {
      this.#syncControls();
      return;
    }
    this.#announceNextUpdate = true;
    this.setAttribute('window', value);
  }

  #onRankingPicked(event) {
    const value = event.target.value;
    if (!RANKINGS.includes(value) || value === this.#ranking) return;
    if (!this.#emit('ranking-change', { by: value, previousBy: this.#ranking }, true)) {
      this.#syncControls();
      return;
    }
    this.#ranking = value;
    this.#offset = 0;
    this.#loadTop();
  }

  #goToPage(offset) {
    if (offset === this.#offset) return;
    this.#offset = offset;
    this.#loadTop();
  }

  // ---- Rendering -------------------------------------------------------------------------

  #applyLanguage() {
    this.#t = resolveMessages(this.lang, this.#messageOverrides);
    this.#fmt = createFormatter(this.lang || 'fr');
    if (!this.#ui) return;
    applyTexts(this.#ui, this.#t);
    this.#renderAll();
  }

  #syncControls() {
    this.#ui.windowSwitch.inputs[this.timeWindow].input.checked = true;
    this.#ui.rankingSwitch.inputs[this.#ranking].input.checked = true;
  }

  #setStatus(status) {
    this.#status = status;
    this.setAttribute('data-state', status);
  }

  #renderAll() {
    this.#renderMeta();
    this.#renderBanner();
    if (this.#metrics) {
      renderKpis(this.#ui, this.#metrics, this.#t, this.#fmt);
      renderSites(this.#ui, this.#metrics, this.#t, this.#fmt);
    } else {
      this.#renderPlaceholders();
    }
    this.#renderChart();
    this.#renderTop();
  }

  #renderPlaceholders() {
    for (const key of ['active', 'success', 'failure', 'rate', 'forced']) {
      this.#ui[key].value.textContent = this.#t.noValue;
      this.#ui[key].note.textContent = '';
    }
    this.#ui.rateStatus.textContent = '';
    this.#ui.chartTitle.textContent = formatMessage(this.#t.chartTitle, {
      step: this.#t['step.minute'],
    });
  }

  #renderMeta() {
    const t = this.#t;
    const ui = this.#ui;
    if (this.#metrics)
      ui.updated.textContent = formatMessage(t.updatedAt, {
        time: this.#fmt.time(this.#metrics.generatedAt),
      });
    else ui.updated.textContent = this.#status === 'loading' ? t.loading : t.neverUpdated;
    const seconds = this.refreshInterval;
    ui.cadence.textContent = seconds ? formatMessage(t.autoRefresh, { seconds }) : t.autoRefreshOff;
  }

  #renderBanner() {
    const t = this.#t;
    const ui = this.#ui;
    const status = this.#status;
    ui.banner.hidden = !['stale', 'error', 'empty'].includes(status);
    ui.banner.className = `banner is-${status}`;
    ui.retryButton.hidden = status === 'empty';
    ui.bannerDetail.textContent = '';

    ui.bannerTitle.hidden = status === 'empty';
    if (status === 'empty') {
      ui.bannerTitle.textContent = '';
      ui.bannerText.textContent = formatMessage(t.emptyNote, {
        window: t[`windowLong.${this.timeWindow}`],
      });
      return;
    }
    if (!this.#error) return;

    const reason = formatMessage(t[`error.${this.#error.kind}`] ?? t['error.http'], {
      status: this.#error.status ?? '',
    });
    const retry = this.refreshInterval
      ? ` ${formatMessage(t.retryNote, { seconds: this.refreshInterval })}`
      : '';
    const staleSince =
      status === 'stale'
        ? `${formatMessage(t.staleBody, { time: this.#fmt.time(this.#metrics.generatedAt) })} `
        : '';
    ui.bannerTitle.textContent = status === 'stale' ? t.staleTitle : t.errorTitle;
    ui.bannerText.textContent = `${staleSince}${reason}${retry}`;
    if (this.#error.detail)
      ui.bannerDetail.textContent = formatMessage(t.errorDetail, { detail: this.#error.detail });
  }

  #renderChart() {
    const ui = this.#ui;
    if (!this.#series || !this.#metrics) {
      ui.chart.querySelector('svg')?.remove();
      ui.chartNote.textContent = '';
      ui.chartTable.body.replaceChildren();
      return;
    }
    this.#chartWidth = ui.chart.clientWidth;
    renderChart(ui, this.#series, this.#metrics, this.#chartWidth || 600, this.#t, this.#fmt);
  }

  #renderTop() {
    if (!this.#top) {
      this.#ui.topTable.body.replaceChildren();
      this.#ui.pager.hidden = true;
      return;
    }
    const focused = this.shadowRoot.activeElement;
    renderTop(this.#ui, this.#top, this.#ranking, this.#t, this.#fmt);
    // A pager button that just became disabled drops focus; hand it to the other one.
    if (focused?.disabled) {
      const other = focused === this.#ui.nextButton ? this.#ui.previousButton : this.#ui.nextButton;
      if (!other.disabled) other.focus();
    }
  }

  #onResize() {
    if (!this.#ui || Math.abs(this.#ui.chart.clientWidth - this.#chartWidth) < 1) return;
    this.#renderChart();
  }

  #announce(message) {
    // Clearing first makes screen readers repeat an identical message.
    this.#ui.announcer.textContent = '';
    setTimeout(() => {
      this.#ui.announcer.textContent = message;
    }, 50);
  }

  #emit(name, detail, cancelable = false) {
    return this.dispatchEvent(
      new CustomEvent(`${EVENT_PREFIX}${name}`, { detail, bubbles: true, cancelable }),
    );
  }
}
