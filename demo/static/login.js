// Demo login: stores the token where the cashier page reads it, then returns to `next`.
const form = document.getElementById('login-form');
const error = document.getElementById('login-error');

function returnPath() {
  const next = new URLSearchParams(location.search).get('next') ?? '/';
  // Only same-origin paths: "//host" or "https://..." would send the cashier elsewhere.
  return next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

// Offer the shops that the demo service simulates, so a person logs in beside the tablets.
async function loadSites() {
  const select = document.getElementById('site');
  try {
    const response = await fetch('/demo/sites');
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const { sites } = await response.json();
    select.replaceChildren(...sites.map((site) => new Option(site, site)));
  } catch (failure) {
    error.textContent = `Liste des boutiques indisponible (${failure.message}). Rechargez la page.`;
  }
}
loadSites();

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.textContent = '';
  const data = Object.fromEntries(new FormData(form));
  try {
    const response = await fetch('/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: data.username, site: data.site }),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = await response.json();
    // The expiry on this device's clock, like the cashier page's refreshes store it.
    const expiresAt = Date.now() / 1000 + body.expires_in;
    localStorage.setItem('demo.auth', JSON.stringify({
      ...body, expires_at: expiresAt, username: data.username, site: data.site, fresh: true,
    }));
    location.assign(returnPath());
  } catch (failure) {
    error.textContent = `Connexion impossible (${failure.message}). Réessayez.`;
  }
});
