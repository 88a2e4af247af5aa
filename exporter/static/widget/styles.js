/**
 * Shadow-root styles of <session-metrics-widget>.
 *
 * Public custom properties (`--smw-*`) set on the element or an ancestor override the private
 * `--_*` values below, in light and dark mode alike. Sizes follow the host's root font size.
 */

export const css = `
:host {
  --_surface: var(--smw-surface, #ffffff);
  --_raised: var(--smw-surface-raised, #f4f6f9);
  --_text: var(--smw-text, #1b2330);
  --_muted: var(--smw-muted, #545f70);
  --_border: var(--smw-border, #d8dde5);
  --_accent: var(--smw-accent, #2856a3);
  --_focus: var(--smw-focus, #1d4ed8);
  --_success: var(--smw-success, #9ab8e0);
  --_failure: var(--smw-failure, #b3401a);
  --_failure-hatch: var(--smw-failure-hatch, #f3c9b6);
  --_ok: var(--smw-ok, #1f6b3a);
  --_alert-bg: var(--smw-alert-surface, #fcefe9);
  --_alert-text: var(--smw-alert-text, #8a2b0c);
  --_stale-bg: var(--smw-stale-surface, #fff6dc);
  --_stale-border: var(--smw-stale-border, #d9b64a);
  --_stale-text: var(--smw-stale-text, #553f00);
  --_error-bg: var(--smw-error-surface, #fdecec);
  --_error-border: var(--smw-error-border, #d98c8c);
  --_error-text: var(--smw-error-text, #8a1c1c);
  --_radius: var(--smw-radius, 10px);
  --_font: var(--smw-font-family, system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif);

  display: block;
  container-type: inline-size;
  color: var(--_text);
  font-family: var(--_font);
  font-size: 0.875rem;
  line-height: 1.45;
}

@media (prefers-color-scheme: dark) {
  :host {
    --_surface: var(--smw-surface, #161a20);
    --_raised: var(--smw-surface-raised, #1f252e);
    --_text: var(--smw-text, #e7ebf0);
    --_muted: var(--smw-muted, #a6b0bf);
    --_border: var(--smw-border, #343b47);
    --_accent: var(--smw-accent, #8fb5f2);
    --_focus: var(--smw-focus, #93c5fd);
    --_success: var(--smw-success, #4d74aa);
    --_failure: var(--smw-failure, #f08a5d);
    --_failure-hatch: var(--smw-failure-hatch, #7c3418);
    --_ok: var(--smw-ok, #7fd19b);
    --_alert-bg: var(--smw-alert-surface, #3b231b);
    --_alert-text: var(--smw-alert-text, #ffb597);
    --_stale-bg: var(--smw-stale-surface, #362c10);
    --_stale-border: var(--smw-stale-border, #8a7228);
    --_stale-text: var(--smw-stale-text, #f3dc95);
    --_error-bg: var(--smw-error-surface, #3a1d1f);
    --_error-border: var(--smw-error-border, #8c4448);
    --_error-text: var(--smw-error-text, #ffb4b4);
  }
}

:host([hidden]), [hidden] { display: none !important; }

*, *::before, *::after { box-sizing: border-box; }

.card {
  background: var(--_surface);
  border: 1px solid var(--_border);
  border-radius: var(--_radius);
  padding: 1rem 1.25rem 1.25rem;
}
:host([data-state="stale"]) .card,
:host([data-state="error"]) .card { border-style: dashed; border-color: var(--_stale-border); }

.sr-only {
  position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}

h2, h3 { margin: 0; font-weight: 600; }
h2 { font-size: 1.125rem; }
h3 { font-size: 0.9375rem; }

.header {
  display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between;
  gap: 0.5rem 1rem;
}
.meta {
  display: flex; flex-wrap: wrap; align-items: center; gap: 0.25rem 0.75rem;
  margin: 0.25rem 0 1rem; color: var(--_muted); font-size: 0.8125rem;
}
.meta .updated { font-variant-numeric: tabular-nums; }

.switch { display: flex; align-items: center; gap: 0.5rem; flex-wrap: wrap; }
.switch-label { color: var(--_muted); font-size: 0.8125rem; }
.segmented {
  display: inline-flex; flex-wrap: wrap; gap: 2px; padding: 2px;
  background: var(--_raised); border: 1px solid var(--_border); border-radius: 8px;
}
.segmented label { position: relative; display: block; }
.segmented input {
  position: absolute; inset: 0; width: 100%; height: 100%; margin: 0; opacity: 0; cursor: pointer;
}
.segmented span {
  display: block; padding: 0.25rem 0.7rem; border-radius: 6px; border: 1px solid transparent;
  color: var(--_muted); white-space: nowrap;
}
.segmented input:checked + span {
  background: var(--_surface); border-color: var(--_border); color: var(--_text); font-weight: 600;
  box-shadow: 0 1px 2px rgb(0 0 0 / 0.08);
}
.segmented input:focus-visible + span { outline: 2px solid var(--_focus); outline-offset: 1px; }

button {
  font: inherit; color: var(--_text); background: var(--_surface);
  border: 1px solid var(--_border); border-radius: 6px; padding: 0.25rem 0.75rem; cursor: pointer;
}
button:hover:not([disabled]) { background: var(--_raised); }
button:focus-visible { outline: 2px solid var(--_focus); outline-offset: 2px; }
button[disabled] { color: var(--_muted); cursor: default; border-style: dashed; }
.meta button { font-size: 0.8125rem; padding: 0.125rem 0.6rem; }

.banner {
  display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.25rem 0.75rem;
  margin: 0 0 1rem; padding: 0.625rem 0.875rem; border-radius: 8px; border: 1px solid;
}
.banner.is-stale { background: var(--_stale-bg); border-color: var(--_stale-border); color: var(--_stale-text); }
.banner.is-error { background: var(--_error-bg); border-color: var(--_error-border); color: var(--_error-text); }
.banner.is-empty { background: var(--_raised); border-color: var(--_border); color: var(--_muted); }
.banner .banner-title { font-weight: 600; }
.banner .banner-title::before { content: "⚠\\FE0E" " "; }
.banner .banner-text { flex: 1 1 16rem; }
.banner .banner-detail { display: block; font-size: 0.8125rem; overflow-wrap: anywhere; }

.kpis {
  display: grid; gap: 0.75rem; margin: 0 0 1.25rem; padding: 0; list-style: none;
  grid-template-columns: repeat(auto-fit, minmax(10.5rem, 1fr));
}
.kpi {
  background: var(--_raised); border: 1px solid var(--_border); border-radius: 8px;
  padding: 0.75rem 0.875rem; min-width: 0;
}
.kpi-label { display: block; color: var(--_muted); font-size: 0.8125rem; }
.kpi-value {
  display: block; font-size: 1.75rem; font-weight: 600; line-height: 1.2; margin: 0.125rem 0;
  font-variant-numeric: tabular-nums;
}
.kpi-note { display: block; color: var(--_muted); font-size: 0.8125rem; overflow-wrap: anywhere; }
.kpi.is-above { background: var(--_alert-bg); border-color: var(--_failure); }
.kpi.is-above .kpi-value, .kpi.is-above .rate-status { color: var(--_alert-text); }
.rate-status { display: block; font-size: 0.8125rem; font-weight: 600; color: var(--_ok); }
.kpi.is-above .rate-status::before { content: "▲\\FE0E" " "; }
.kpi.is-below .rate-status::before { content: "✓\\FE0E" " "; }
.kpi.is-idle .rate-status { color: var(--_muted); font-weight: 400; }

.meter { display: block; position: relative; height: 6px; margin: 0.375rem 0 0.5rem; border-radius: 3px; background: var(--_border); }
.meter-fill { display: block; position: absolute; inset: 0 auto 0 0; border-radius: 3px; background: var(--_accent); }
.kpi.is-above .meter-fill { background: var(--_failure); }
.meter-mark { display: block; position: absolute; top: -4px; width: 2px; height: 14px; margin-left: -1px; background: var(--_text); }

.panels { display: grid; gap: 1.25rem; grid-template-columns: minmax(0, 1fr); margin-bottom: 1.25rem; }
@container (min-width: 760px) {
  .panels { grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); }
}
.panel-head { display: flex; flex-wrap: wrap; align-items: baseline; justify-content: space-between; gap: 0.25rem 1rem; margin-bottom: 0.5rem; }

.legend { display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; margin: 0; padding: 0; list-style: none; color: var(--_muted); font-size: 0.8125rem; }
.legend li { display: inline-flex; align-items: center; gap: 0.375rem; }
.swatch { display: inline-block; width: 0.875rem; height: 0.875rem; border-radius: 2px; border: 1px solid var(--_border); }
.swatch-success { background: var(--_success); }
.swatch-failure {
  background: repeating-linear-gradient(45deg, var(--_failure) 0 3px, var(--_failure-hatch) 3px 5px);
}

.chart { position: relative; min-height: 184px; }
.chart-svg { display: block; max-width: 100%; overflow: visible; }
.chart-grid line { stroke: var(--_border); stroke-width: 1; }
.chart-grid text, .chart-axis text { fill: var(--_muted); font-size: 11px; font-variant-numeric: tabular-nums; }
.chart-axis line { stroke: var(--_muted); stroke-width: 1; }
.bar-hit { fill: transparent; }
.bar:hover .bar-hit { fill: var(--_raised); }
.bar-success { fill: var(--_success); }
.hatch-fill { fill: var(--_failure); }
.hatch-line { stroke: var(--_failure-hatch); stroke-width: 2; }
.bar.is-partial rect.bar-success, .bar.is-partial rect.bar-failure { opacity: 0.55; }
.chart-empty {
  position: absolute; inset: 0 0 26px 46px; display: flex; align-items: center; justify-content: center;
  color: var(--_muted); text-align: center; padding: 0 1rem;
}
.chart-note { margin: 0.25rem 0 0; color: var(--_muted); font-size: 0.75rem; }

details { margin-top: 0.5rem; }
summary { cursor: pointer; color: var(--_accent); font-size: 0.8125rem; width: fit-content; }
summary:focus-visible { outline: 2px solid var(--_focus); outline-offset: 2px; border-radius: 2px; }
.table-scroll { max-height: 16rem; overflow: auto; margin-top: 0.5rem; border: 1px solid var(--_border); border-radius: 6px; }
.table-scroll:focus-visible { outline: 2px solid var(--_focus); outline-offset: 2px; }

table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
caption { text-align: start; }
th, td { padding: 0.375rem 0.5rem; border-bottom: 1px solid var(--_border); text-align: start; vertical-align: top; }
th { color: var(--_muted); font-weight: 600; font-size: 0.8125rem; }
tbody th { color: var(--_text); font-weight: 400; font-size: inherit; }
thead th { position: sticky; top: 0; background: var(--_surface); }
tbody tr:last-child td, tbody tr:last-child th { border-bottom: 0; }
.num { text-align: end; white-space: nowrap; }
.key { overflow-wrap: anywhere; }
.key-code { color: var(--_muted); font-size: 0.75rem; margin-inline-start: 0.375rem; }
.rank { width: 3.5rem; color: var(--_muted); }
.empty-row td { color: var(--_muted); text-align: center; padding: 1rem 0.5rem; }

.sites-bar { display: block; height: 4px; margin-top: 0.25rem; border-radius: 2px; background: var(--_accent); opacity: 0.7; }

.top-head { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 0.5rem 1rem; margin-bottom: 0.5rem; }
.top-note { margin: 0.375rem 0 0; color: var(--_muted); font-size: 0.75rem; }
.pager { display: flex; flex-wrap: wrap; align-items: center; justify-content: flex-end; gap: 0.5rem; margin-top: 0.625rem; }
.pager-range { color: var(--_muted); font-size: 0.8125rem; margin-inline-end: auto; font-variant-numeric: tabular-nums; }

:host([data-state="loading"]) .kpi-value { color: var(--_muted); }
/* Without any figures yet there is no chart, site list or ranking to show. */
:host([data-state="loading"]) :is(.panels, .top, .meter),
:host([data-state="error"]) :is(.panels, .top, .meter) { display: none; }

@container (max-width: 420px) {
  .card { padding: 0.875rem 0.875rem 1rem; }
  .kpis { grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 0.5rem; }
  .kpi { padding: 0.625rem 0.75rem; }
  .kpi-value { font-size: 1.5rem; }
  .kpi-rate { grid-column: 1 / -1; order: 1; }
  .segmented span { padding: 0.25rem 0.55rem; }
}
`;
