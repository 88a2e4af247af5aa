// Host code of the demo cashier page: what a real app does to use the banner, plus the
// demo tools (cut the network, make the server refuse or fail).
import { RefreshError, SessionKeeper } from '/banner/index.js';

const AUTH_KEY = 'demo.auth';
const NETWORK_CUT_KEY = 'demo.networkCut';
const PING_INTERVAL_MS = 20_000;

const $ = (id) => document.getElementById(id);

function readAuth() {
  try {
    return JSON.parse(localStorage.getItem(AUTH_KEY) ?? 'null');
  } catch {
    return null;
  }
}

function writeAuth(auth) {
  localStorage.setItem(AUTH_KEY, JSON.stringify(auth));
}

function networkCut() {
  return localStorage.getItem(NETWORK_CUT_KEY) === '1';
}

// Every request of the app goes through appFetch, so "cutting the network" in the demo tools
// makes them fail the way fetch does when the tablet is offline: with a TypeError.
const realFetch = window.fetch.bind(window);
const stats = { refreshCalls: 0, pendingRequests: 0, failures: [] };
async function appFetch(url, init) {
  if (networkCut()) throw new TypeError('Failed to fetch (réseau coupé par la démo)');
  stats.pendingRequests += 1;
  try {
    return await realFetch(url, init);
  } finally {
    stats.pendingRequests -= 1;
  }
}

// The host's refresh function: renews the token and returns the new expiry to the keeper.
async function refresh({ signal }) {
  stats.refreshCalls += 1;
  const current = readAuth();
  const response = await appFetch('/auth/refresh', {
    method: 'POST',
    headers: { Authorization: `Bearer ${current?.access_token ?? ''}` },
    signal,
  });
  if (!response.ok) throw await RefreshError.fromResponse(response);
  const body = await response.json();
  // The expiry on this device's clock, as the keeper computes it from expiresIn: a reload
  // then hands the keeper the same value that the tabs share, even if the clock is off.
  const expiresAt = Date.now() / 1000 + body.expires_in;
  writeAuth({ ...current, access_token: body.access_token, expires_at: expiresAt });
  return { expiresIn: body.expires_in };
}

function startApp(auth) {
  // ?ahead=SECONDS lets a demo or a test renew earlier than the default 5 minutes ahead.
  const ahead = Number.parseFloat(new URLSearchParams(location.search).get('ahead') ?? '');
  const keeper = new SessionKeeper({
    refresh,
    expiresAt: auth.expires_at * 1000,
    name: 'ressourcerie',
    ...(Number.isFinite(ahead) && ahead > 0 ? { refreshAheadMs: ahead * 1000 } : {}),
    env: { fetch: appFetch },
    clientEvents: {
      url: '/v1/sessions/client-events',
      headers: () => ({ Authorization: `Bearer ${readAuth()?.access_token ?? ''}` }),
    },
  });
  if (auth.fresh) {
    // A new login: tell the other tabs, whose banners may show an expired session.
    keeper.setExpiry(auth.expires_at * 1000);
    writeAuth({ ...auth, fresh: false });
  }
  keeper.addEventListener('failed', (event) => stats.failures.push(event.detail));
  const banner = document.querySelector('session-banner');
  banner.keeper = keeper;
  keeper.start();
  $('site-name').textContent = auth.site ?? '';
  $('cashier-name').textContent = auth.username ?? '';
  window.demo = { keeper, banner, stats, setNetworkCut, readAuth };
  return keeper;
}

function setNetworkCut(cut) {
  if (cut) localStorage.setItem(NETWORK_CUT_KEY, '1');
  else localStorage.removeItem(NETWORK_CUT_KEY);
  showNetworkState();
}

function showNetworkState() {
  const button = $('network-toggle');
  button.setAttribute('aria-pressed', String(networkCut()));
  button.textContent = networkCut() ? 'Rétablir le réseau' : 'Couper le réseau';
}

function setupActivityPing() {
  let lastPing = 0;
  const ping = () => {
    const now = Date.now();
    if (now - lastPing < PING_INTERVAL_MS) return;
    lastPing = now;
    appFetch('/api/ping', { headers: { Authorization: `Bearer ${readAuth()?.access_token ?? ''}` } })
      .catch(() => {}); // Activity pings are best effort; the refresh keeps the session.
  };
  for (const type of ['input', 'click', 'keydown']) document.addEventListener(type, ping, { passive: true });
}

function setupDemoTools(keeper) {
  $('network-toggle').addEventListener('click', () => setNetworkCut(!networkCut()));
  window.addEventListener('storage', (event) => {
    if (event.key === NETWORK_CUT_KEY) showNetworkState();
  });
  $('refresh-now').addEventListener('click', () => keeper.retryNow());
  // Sent with the session's token, the switch changes the server's responses for this session
  // only. The demo's simulated tablets keep the global mode.
  const chaosHeaders = () => ({ Authorization: `Bearer ${readAuth()?.access_token ?? ''}` });
  for (const radio of document.querySelectorAll('input[name="chaos"]')) {
    radio.addEventListener('change', () => {
      realFetch('/demo/chaos', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...chaosHeaders() },
        body: JSON.stringify({ refresh: radio.value }),
      });
    });
  }
  realFetch('/demo/chaos', { headers: chaosHeaders() }).then((r) => r.json()).then(({ refresh: mode }) => {
    const radio = document.querySelector(`input[name="chaos"][value="${mode}"]`);
    if (radio) radio.checked = true;
  }).catch(() => {});
  showNetworkState();
  const showStatus = () => {
    const s = keeper.state;
    const left = s.expiresAt === null ? null : Math.round((s.expiresAt - keeper.now()) / 1000);
    let expiry = '—';
    if (left !== null) expiry = left > 0 ? `dans ${left} s` : `expiré depuis ${-left} s`;
    $('status-expiry').textContent = expiry;
    $('status-problem').textContent = s.problem
      ? `${s.problem} (${s.reason}), tentative ${s.attempt}`
      : s.refreshing ? 'en cours…' : 'OK';
    $('status-events').textContent = String(s.pendingEvents);
    const m = keeper.mechanisms;
    $('status-sync').textContent = `${m.lock} / ${m.channel}`;
  };
  keeper.addEventListener('change', showStatus);
  setInterval(showStatus, 1000);
  showStatus();
}

function setupSale() {
  const lines = [];
  const form = $('sale-form');
  const list = $('ticket-lines');
  const euros = new Intl.NumberFormat('fr-FR', { style: 'currency', currency: 'EUR' });
  const render = () => {
    list.replaceChildren(...(lines.length ? lines.map((line) => {
      const item = document.createElement('li');
      item.innerHTML = '<span></span><span class="amount"></span>';
      item.children[0].textContent = `${line.quantity} × ${line.article} (${line.category})`;
      item.children[1].textContent = euros.format(line.quantity * line.price);
      return item;
    }) : [Object.assign(document.createElement('li'), { className: 'empty', textContent: 'Aucun article pour l’instant.' })]));
    $('total').textContent = euros.format(lines.reduce((sum, l) => sum + l.quantity * l.price, 0));
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    lines.push({ article: data.article, category: data.category, quantity: Number(data.quantity) || 1, price: Number(data.price) || 0 });
    form.reset();
    render();
  });
  $('checkout').addEventListener('click', () => {
    lines.length = 0;
    render();
  });
}

function setupLogout(keeper) {
  $('logout').addEventListener('click', async () => {
    keeper.end();
    const token = readAuth()?.access_token ?? '';
    await appFetch('/auth/logout', { method: 'POST', headers: { Authorization: `Bearer ${token}` } }).catch(() => {});
    localStorage.removeItem(AUTH_KEY);
    location.assign('/login');
  });
}

const auth = readAuth();
if (!auth?.access_token) {
  location.replace(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
} else {
  const keeper = startApp(auth);
  setupSale();
  setupActivityPing();
  setupDemoTools(keeper);
  setupLogout(keeper);
}
