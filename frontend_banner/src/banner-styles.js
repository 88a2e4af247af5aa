// Shadow-DOM styles and icons of <session-banner>.
//
// Public custom properties (all optional) are read with a private fallback (--_name), and the
// fallbacks change with the tone (retrying, refused, expired) and the colour scheme, so a host
// can restyle everything without fighting specificity. Colour pairs meet WCAG AA (4.5:1 for
// text), which the axe browser test checks in both schemes.

const TONES = {
  light: {
    retrying: { bg: '#fff8e5', border: '#e9cf87', accent: '#8a5a00', strong: '#6f4800', onStrong: '#ffffff' },
    refused: { bg: '#fff1e6', border: '#f2c29c', accent: '#a8420a', strong: '#a8420a', onStrong: '#ffffff' },
    expired: { bg: '#fdeceb', border: '#f1b2ab', accent: '#b42318', strong: '#b42318', onStrong: '#ffffff' },
    fg: '#1f2328',
    muted: '#4a5159',
    buttonBg: '#ffffff',
    buttonBorder: '#8c939b',
    focus: '#1d4ed8',
  },
  dark: {
    retrying: { bg: '#2a2213', border: '#5b4a22', accent: '#f2c15c', strong: '#f2c15c', onStrong: '#1d1606' },
    refused: { bg: '#2e1d12', border: '#6a3a1c', accent: '#f8a36a', strong: '#f8a36a', onStrong: '#1f0f05' },
    expired: { bg: '#351716', border: '#73302b', accent: '#ff8f85', strong: '#ff8f85', onStrong: '#2a0907' },
    fg: '#f3eee6',
    muted: '#d3ccc1',
    buttonBg: 'transparent',
    buttonBorder: '#9a948b',
    focus: '#93c5fd',
  },
};

// `condition` narrows :host() to when the scheme applies: '' for the light default,
// '[color-scheme="dark"]' when forced, ':not([color-scheme="light"])' under the media query.
function tokens(scheme, condition = '') {
  const t = TONES[scheme];
  const tone = (name) => `
    :host(${condition}[tone="${name}"]) {
      --_bg: ${t[name].bg}; --_border: ${t[name].border}; --_accent: ${t[name].accent};
      --_strong: ${t[name].strong}; --_on-strong: ${t[name].onStrong};
    }`;
  return `
    ${condition ? `:host(${condition})` : ':host'} {
      --_fg: ${t.fg}; --_muted: ${t.muted}; --_button-bg: ${t.buttonBg};
      --_button-border: ${t.buttonBorder}; --_focus: ${t.focus};
      color-scheme: ${scheme};
    }
    ${tone('retrying')}${tone('refused')}${tone('expired')}`;
}

export const STYLES = `
  :host {
    display: block;
    position: sticky;
    top: var(--session-banner-offset, 0px);
    z-index: var(--session-banner-z-index, 1000);
    container-type: inline-size;
    font-family: var(--session-banner-font-family, system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif);
    font-size: var(--session-banner-font-size, 1rem);
    line-height: 1.4;
  }
  ${tokens('light')}
  @media (prefers-color-scheme: dark) {
    ${tokens('dark', ':not([color-scheme="light"])')}
  }
  ${tokens('dark', '[color-scheme="dark"]')}

  .banner {
    background: var(--session-banner-background, var(--_bg));
    color: var(--session-banner-color, var(--_fg));
    border-bottom: 1px solid var(--session-banner-border-color, var(--_border));
    border-top: 4px solid var(--session-banner-accent, var(--_accent));
    box-shadow: var(--session-banner-shadow, 0 2px 6px rgb(0 0 0 / 8%));
    border-radius: var(--session-banner-radius, 0);
    animation: enter 180ms ease-out;
  }
  .banner[hidden] { display: none; }
  .inner {
    box-sizing: border-box;
    max-width: var(--session-banner-max-width, 1200px);
    margin: 0 auto;
    padding: 12px 20px;
    display: grid;
    grid-template-columns: auto minmax(0, 1fr) auto;
    grid-template-areas: "icon text actions";
    align-items: center;
    gap: 4px 16px;
  }
  .icon {
    grid-area: icon;
    display: grid;
    place-items: center;
    width: 40px;
    height: 40px;
    border-radius: 50%;
    color: var(--session-banner-accent, var(--_accent));
    background: color-mix(in srgb, var(--session-banner-accent, var(--_accent)) 14%, transparent);
  }
  .icon svg { width: 22px; height: 22px; }
  :host([refreshing]) .icon svg.spin { animation: spin 1.1s linear infinite; }
  .text { grid-area: text; min-width: 0; }
  .title { margin: 0; font-weight: 650; font-size: 1.05em; }
  .detail, .countdown, .note { margin: 2px 0 0; color: var(--session-banner-muted-color, var(--_muted)); }
  .detail:empty, .note:empty { display: none; }
  .time { font-variant-numeric: tabular-nums; font-weight: 650; color: var(--session-banner-color, var(--_fg)); }
  :host([tone="expired"]) .countdown { color: var(--session-banner-color, var(--_fg)); font-weight: 600; }
  .note { font-style: italic; }
  .actions { grid-area: actions; display: flex; flex-wrap: wrap; gap: 8px; justify-content: flex-end; }
  .btn {
    box-sizing: border-box;
    min-height: 44px;
    min-width: 44px;
    padding: 10px 16px;
    border-radius: 8px;
    border: 1px solid var(--session-banner-button-border-color, var(--_button-border));
    background: var(--session-banner-button-background, var(--_button-bg));
    color: var(--session-banner-color, var(--_fg));
    font: inherit;
    font-weight: 600;
    text-decoration: none;
    display: inline-flex;
    align-items: center;
    justify-content: center;
    cursor: pointer;
    touch-action: manipulation;
    white-space: nowrap;
  }
  .btn:hover { background: color-mix(in srgb, var(--session-banner-accent, var(--_accent)) 10%, var(--session-banner-button-background, var(--_button-bg))); }
  .btn.primary {
    background: var(--session-banner-primary-background, var(--_strong));
    border-color: var(--session-banner-primary-background, var(--_strong));
    color: var(--session-banner-primary-color, var(--_on-strong));
  }
  .btn.primary:hover { filter: brightness(0.93); }
  .btn:focus-visible {
    outline: 3px solid var(--session-banner-focus-color, var(--_focus));
    outline-offset: 2px;
  }
  .visually-hidden {
    position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden;
    clip: rect(0 0 0 0); clip-path: inset(50%); white-space: nowrap; border: 0;
  }

  /* Below 960 px (tablets in portrait, phones) the actions go under the text, which keeps
     the full width instead of a narrow column beside three buttons. */
  @container (max-width: 960px) {
    .inner {
      grid-template-columns: auto minmax(0, 1fr);
      grid-template-areas: "icon text" "actions actions";
      gap: 10px 12px;
      padding: 12px 16px;
    }
    .icon { align-self: start; width: 36px; height: 36px; }
    .actions { justify-content: stretch; }
    .btn { flex: 1 1 auto; }
  }
  /* Phones: the sticky banner must leave room for the work, so it drops the icon (the accent
     bar still shows the tone) and tightens its spacing. */
  @container (max-width: 480px) {
    .inner {
      grid-template-columns: minmax(0, 1fr);
      grid-template-areas: "text" "actions";
      gap: 8px;
      padding: 8px 12px 10px;
    }
    .icon { display: none; }
    .title { font-size: 1em; }
    .detail, .countdown, .note { margin-top: 0; }
    .btn { padding: 8px 12px; }
  }

  @keyframes enter { from { opacity: 0; transform: translateY(-6px); } to { opacity: 1; transform: none; } }
  @keyframes spin { to { transform: rotate(360deg); } }
  @media (prefers-reduced-motion: reduce) {
    .banner { animation: none; }
    :host([refreshing]) .icon svg.spin { animation: none; }
  }
  @media (forced-colors: active) {
    .banner { border: 2px solid CanvasText; }
    .btn.primary { border: 2px solid ButtonText; }
  }
`;

const svg = (body, className = '') =>
  `<svg class="${className}" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" ` +
  `stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">${body}</svg>`;

export const ICONS = {
  network: svg(
    '<path d="M3 3l18 18"/><path d="M8.6 16.2a5 5 0 0 1 6.3-.5"/><path d="M5.2 12.6a10 10 0 0 1 4-2.4"/>' +
      '<path d="M14.5 10.4a10 10 0 0 1 4.3 2.2"/><path d="M2 8.9a15 15 0 0 1 4.3-2.7"/>' +
      '<path d="M10.6 5.1A15 15 0 0 1 22 8.9"/><path d="M12 20h.01"/>',
  ),
  server: svg('<path d="M21 12a9 9 0 1 1-3-6.7"/><path d="M21 4v5h-5"/>', 'spin'),
  refused: svg('<rect x="5" y="11" width="14" height="10" rx="2"/><path d="M8 11V8a4 4 0 0 1 8 0v3"/>'),
  expired: svg('<circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 2"/>'),
};
