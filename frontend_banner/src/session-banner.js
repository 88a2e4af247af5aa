// <session-banner>: shows what the session keeper is going through, and only when it matters.
// A refresh failure that a quick retry fixes shows nothing; a lasting one shows a persistent
// banner (never dismissed automatically) with the cause, the retry countdown, the time left
// and three actions: « Réessayer », « Sauvegarder », « Se reconnecter ».

import { ICONS, STYLES } from './banner-styles.js';
import { forgetDraftsOnSubmit, restoreDrafts, saveDrafts } from './drafts.js';
import { formatDuration, messagesFor } from './messages.js';
import { crossedThreshold, deriveView, thresholdText, viewTexts } from './view-model.js';

const DEFAULT_LOGIN_URL = '/login';
const DEFAULT_RETURN_PARAM = 'next';
const DEFAULT_QUIET_PERIOD_S = 5;
const NOTE_VISIBLE_MS = 8_000;
// Re-render at least this often while a problem is pending, whatever the countdown needs.
const MAX_RENDER_INTERVAL_MS = 60_000;

const TEMPLATE = `
  <div class="visually-hidden" role="status" aria-live="polite" aria-atomic="true" data-live="polite"></div>
  <div class="visually-hidden" role="alert" aria-live="assertive" aria-atomic="true" data-live="assertive"></div>
  <section class="banner" part="banner" aria-labelledby="title" hidden>
    <div class="inner">
      <div class="icon" part="icon"></div>
      <div class="text">
        <p class="title" id="title" part="title"></p>
        <p class="detail" part="detail"></p>
        <p class="countdown" part="countdown"></p>
        <p class="note" part="note"></p>
      </div>
      <div class="actions" part="actions">
        <button type="button" class="btn" part="button retry" data-action="retry"></button>
        <button type="button" class="btn" part="button save" data-action="save"></button>
        <a class="btn" part="button relogin" data-action="relogin" href="#"></a>
      </div>
    </div>
  </section>
`;

function safeStorage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

export class SessionBanner extends HTMLElement {
  static observedAttributes = ['lang', 'login-url', 'return-param', 'quiet-period'];

  #keeper = null;
  #overrides = {};
  #timer = null;
  #noteTimer = null;
  #stopForgettingDrafts = null;
  #tone = 'hidden';
  #toneKey = 'hidden';
  #lastLeftMs = null;
  #note = '';
  #connected = false;
  #parts;
  #onKeeperChange = () => this.#render();
  #onVisibility = () => this.#render();
  #onClick = (event) => this.#handleClick(event);

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = `<style>${STYLES}</style>${TEMPLATE}`;
    const q = (selector) => root.querySelector(selector);
    this.#parts = {
      banner: q('.banner'),
      icon: q('.icon'),
      title: q('.title'),
      detail: q('.detail'),
      countdown: q('.countdown'),
      note: q('.note'),
      retry: q('[data-action="retry"]'),
      save: q('[data-action="save"]'),
      relogin: q('[data-action="relogin"]'),
      polite: q('[data-live="polite"]'),
      assertive: q('[data-live="assertive"]'),
    };
  }

  /** The SessionKeeper whose state the banner shows. */
  get keeper() {
    return this.#keeper;
  }

  set keeper(keeper) {
    if (this.#connected) this.#keeper?.removeEventListener('change', this.#onKeeperChange);
    this.#keeper = keeper ?? null;
    if (this.#connected) this.#keeper?.addEventListener('change', this.#onKeeperChange);
    this.#render();
  }

  /** String overrides, merged over the language's table (see messages.js for the keys). */
  get messages() {
    return { ...this.#overrides };
  }

  set messages(overrides) {
    this.#overrides = overrides && typeof overrides === 'object' ? { ...overrides } : {};
    this.#render();
  }

  get loginUrl() {
    return this.getAttribute('login-url') || DEFAULT_LOGIN_URL;
  }

  set loginUrl(value) {
    this.setAttribute('login-url', String(value));
  }

  get returnParam() {
    return this.getAttribute('return-param') || DEFAULT_RETURN_PARAM;
  }

  set returnParam(value) {
    this.setAttribute('return-param', String(value));
  }

  /** Seconds a problem stays silent before the banner shows (0 shows it at the first failure). */
  get quietPeriod() {
    const value = Number.parseFloat(this.getAttribute('quiet-period') ?? '');
    return Number.isFinite(value) && value >= 0 ? value : DEFAULT_QUIET_PERIOD_S;
  }

  set quietPeriod(value) {
    this.setAttribute('quiet-period', String(value));
  }

  /** Current tone: hidden, retrying, refused or expired (reflected as the `tone` attribute). */
  get tone() {
    return this.#tone;
  }

  /** Login URL with the current page as return path. */
  get reloginUrl() {
    const here = globalThis.location;
    const url = new URL(this.loginUrl, here?.href ?? 'http://localhost/');
    url.searchParams.set(this.returnParam, `${here?.pathname ?? '/'}${here?.search ?? ''}${here?.hash ?? ''}`);
    return url.origin === here?.origin ? `${url.pathname}${url.search}${url.hash}` : url.href;
  }

  connectedCallback() {
    this.#connected = true;
    this.#keeper?.addEventListener('change', this.#onKeeperChange);
    globalThis.document?.addEventListener('visibilitychange', this.#onVisibility);
    this.shadowRoot.addEventListener('click', this.#onClick);
    if (!this.hasAttribute('no-drafts')) {
      const storage = safeStorage();
      const doc = globalThis.document;
      if (storage && doc) {
        restoreDrafts(doc, storage, globalThis.location);
        this.#stopForgettingDrafts = forgetDraftsOnSubmit(doc, storage, globalThis.location);
      }
    }
    this.#render();
  }

  disconnectedCallback() {
    this.#connected = false;
    this.#keeper?.removeEventListener('change', this.#onKeeperChange);
    globalThis.document?.removeEventListener('visibilitychange', this.#onVisibility);
    this.shadowRoot.removeEventListener('click', this.#onClick);
    this.#stopForgettingDrafts?.();
    this.#stopForgettingDrafts = null;
    clearTimeout(this.#timer);
    clearTimeout(this.#noteTimer);
    this.#timer = null;
    this.#noteTimer = null;
  }

  attributeChangedCallback() {
    this.#render();
  }

  /** Ask the keeper to refresh now, unless a `session-retry` listener cancels. */
  retry() {
    if (!this.#dispatch('session-retry', this.#eventDetail(), true)) return false;
    this.#keeper?.retryNow();
    return true;
  }

  /**
   * Fire `session-save`; unless a listener cancels it, store the page's draft forms locally.
   * The event carries the banner's state only, never a token.
   */
  save() {
    if (!this.#dispatch('session-save', this.#eventDetail(), true)) return false;
    if (this.hasAttribute('no-drafts')) return true;
    const storage = safeStorage();
    const saved = storage ? saveDrafts(globalThis.document, storage, globalThis.location) : 0;
    const m = this.#strings();
    this.#showNote(saved > 0 ? m.draftSaved : m.nothingToSave);
    return true;
  }

  /** Go to the login URL with the return path, unless a `session-relogin` listener cancels. */
  relogin() {
    const url = this.reloginUrl;
    if (!this.#dispatch('session-relogin', { ...this.#eventDetail(), url }, true)) return false;
    globalThis.location?.assign(url);
    return true;
  }

  #handleClick(event) {
    const action = event.target.closest?.('[data-action]')?.dataset.action;
    if (action === 'retry') this.retry();
    if (action === 'save') this.save();
    if (action === 'relogin') {
      // The link navigates by itself (so middle-click and "open in new tab" work); a
      // cancelled `session-relogin` stops it.
      const url = this.reloginUrl;
      if (!this.#dispatch('session-relogin', { ...this.#eventDetail(), url }, true)) event.preventDefault();
    }
  }

  #eventDetail() {
    const state = this.#keeper?.state;
    return {
      tone: this.#tone,
      problem: state?.problem ?? null,
      reason: state?.reason ?? null,
      expiresAt: state?.expiresAt ?? null,
    };
  }

  #dispatch(type, detail, cancelable) {
    return this.dispatchEvent(new CustomEvent(type, { bubbles: true, composed: true, cancelable, detail }));
  }

  #strings() {
    const lang = this.closest('[lang]')?.getAttribute('lang') ?? globalThis.document?.documentElement?.lang;
    return messagesFor(lang, this.#overrides);
  }

  #now() {
    return this.#keeper ? this.#keeper.now() : Date.now();
  }

  #render() {
    if (!this.#connected) return;
    const now = this.#now();
    const state = this.#keeper?.state ?? null;
    const view = deriveView(state, now, { quietMs: this.quietPeriod * 1000 });
    const m = this.#strings();
    const texts = viewTexts(view, m);
    this.#paint(view, texts, m);
    this.#announce(view, texts, m);
    this.#scheduleRender(view, state, now);
  }

  #paint(view, texts, m) {
    const p = this.#parts;
    if (this.getAttribute('tone') !== view.tone) this.setAttribute('tone', view.tone);
    this.toggleAttribute('refreshing', view.refreshing);
    p.banner.hidden = !view.visible;
    p.banner.setAttribute('aria-label', m.regionLabel);
    p.banner.setAttribute('role', 'region');
    const iconName = view.expired ? 'expired' : view.problem === 'refused' ? 'refused'
      : view.problem === 'server' ? 'server' : 'network';
    if (p.icon.dataset.icon !== iconName) {
      p.icon.innerHTML = ICONS[iconName];
      p.icon.dataset.icon = iconName;
    }
    p.title.textContent = texts.title;
    p.detail.textContent = texts.detail;
    this.#paintCountdown(view, texts, m);
    p.note.textContent = this.#note;
    p.retry.textContent = m.retry;
    p.save.textContent = m.save;
    p.relogin.textContent = m.relogin;
    p.relogin.href = this.reloginUrl;
    p.retry.toggleAttribute('aria-busy', view.refreshing);
    const reloginFirst = view.tone === 'expired' || view.tone === 'refused';
    p.retry.classList.toggle('primary', !reloginFirst);
    p.relogin.classList.toggle('primary', reloginFirst);
  }

  #paintCountdown(view, texts, m) {
    const node = this.#parts.countdown;
    // The time is wrapped in its own element so it can use tabular digits and bold weight.
    const [before, after] = m.countdown.split('{time}');
    if (view.expired || view.timeLeftMs === null || after === undefined) {
      node.textContent = texts.countdown;
      return;
    }
    const time = document.createElement('span');
    time.className = 'time';
    time.textContent = formatDuration(view.timeLeftMs);
    node.replaceChildren(before, time, after);
  }

  #announce(view, texts, m) {
    const key = view.visible ? `${view.tone}:${view.problem}` : 'hidden';
    const previousTone = this.#tone;
    if (key !== this.#toneKey) {
      const wasVisible = this.#toneKey !== 'hidden';
      this.#toneKey = key;
      this.#tone = view.tone;
      if (view.visible) {
        const reason = view.problem === 'refused' ? m.refused
          : view.problem === 'network' ? m.network : view.problem === 'server' ? m.server : '';
        const text = [texts.title, reason, view.expired ? m.expiredHint : ''].filter(Boolean).join('. ');
        this.#speak(view.expired ? 'assertive' : 'polite', text);
      } else if (wasVisible) {
        this.#speak('polite', m.renewed);
        this.#note = '';
      }
      if (view.tone === 'expired' && previousTone !== 'expired') {
        // The one focus move the banner makes: at expiry, « Se reconnecter » is what to do next.
        this.#parts.relogin.focus();
      }
      if (previousTone !== view.tone) {
        this.#dispatch('session-statechange', { ...this.#eventDetail(), previousTone }, false);
      }
    } else if (view.visible) {
      const crossed = crossedThreshold(this.#lastLeftMs, view.timeLeftMs);
      if (crossed !== null) this.#speak('polite', thresholdText(crossed, m));
    }
    this.#lastLeftMs = view.timeLeftMs;
  }

  #speak(politeness, text) {
    const region = politeness === 'assertive' ? this.#parts.assertive : this.#parts.polite;
    // Screen readers skip an unchanged text: a no-break space makes a repeat a change.
    region.textContent = region.textContent === text ? `${text}\u00a0` : text;
  }

  #showNote(text) {
    this.#note = text;
    this.#speak('polite', text);
    this.#render();
    clearTimeout(this.#noteTimer);
    this.#noteTimer = setTimeout(() => {
      this.#note = '';
      this.#render();
    }, NOTE_VISIBLE_MS);
  }

  #scheduleRender(view, state, now) {
    clearTimeout(this.#timer);
    this.#timer = null;
    if (!state || state.expiresAt === null) return;
    let delay;
    if (view.visible) {
      // Wake just after the next whole second of the countdown (or of the retry countdown).
      const remainder = (ms) => (ms > 0 ? ((ms - 1) % 1000) + 1 : 1000);
      delay = Math.min(remainder(view.timeLeftMs), view.retryInMs ? remainder(view.retryInMs) : 1000) + 5;
    } else if (state.problem) {
      delay = (state.problemSince ?? now) + this.quietPeriod * 1000 - now;
    } else {
      delay = state.expiresAt - now;
    }
    delay = Math.max(5, Math.min(delay, MAX_RENDER_INTERVAL_MS));
    this.#timer = setTimeout(() => this.#render(), delay);
  }
}
