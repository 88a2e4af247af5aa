/**
 * The widget's static shadow DOM: built once per element, then updated in place so that focus,
 * open <details> and scroll positions survive every refresh.
 */

import { html } from './dom.js';

export const WINDOWS = ['5m', '15m', '1h', '24h', '7d'];
export const RANKINGS = ['ip', 'site', 'reason'];

function segmented(name, values, labelId) {
  const inputs = {};
  const group = html('div', { class: 'segmented' });
  for (const value of values) {
    const input = html('input', { type: 'radio', name, value });
    const text = html('span');
    inputs[value] = { input, text };
    group.append(html('label', {}, [input, text]));
  }
  const label = html('span', { id: labelId, class: 'switch-label' });
  const root = html('div', { class: 'switch', role: 'radiogroup', 'aria-labelledby': labelId }, [
    label,
    group,
  ]);
  return { root, label, inputs };
}

function kpi(name, extra = []) {
  const label = html('span', { class: 'kpi-label' });
  const value = html('span', { class: 'kpi-value' });
  const note = html('span', { class: 'kpi-note' });
  const root = html('li', { class: `kpi kpi-${name}` }, [label, value, ...extra, note]);
  return { root, label, value, note };
}

function headedTable(tableClass, columns) {
  const cells = columns.map((className) => html('th', { scope: 'col', class: className || null }));
  const body = html('tbody');
  const table = html('table', { class: tableClass }, [
    html('thead', {}, [html('tr', {}, cells)]),
    body,
  ]);
  return { table, cells, body };
}

/** Builds the skeleton inside `shadowRoot` and returns references to every part that changes. */
export function buildTemplate(shadowRoot) {
  const ui = {};

  ui.title = html('h2', { id: 'smw-title' });
  ui.windowSwitch = segmented('window', WINDOWS, 'smw-window-label');
  ui.updated = html('span', { class: 'updated' });
  ui.cadence = html('span', { class: 'cadence' });
  ui.refreshButton = html('button', { type: 'button', class: 'refresh-button' });

  ui.bannerTitle = html('span', { class: 'banner-title' });
  ui.bannerText = html('span', { class: 'banner-message' });
  ui.bannerDetail = html('span', { class: 'banner-detail' });
  ui.retryButton = html('button', { type: 'button', class: 'retry-button' });
  ui.banner = html('div', { class: 'banner', hidden: true }, [
    ui.bannerTitle,
    html('span', { class: 'banner-text' }, [ui.bannerText, ui.bannerDetail]),
    ui.retryButton,
  ]);
  ui.announcer = html('div', { class: 'sr-only', role: 'status', 'aria-live': 'polite' });

  ui.active = kpi('active');
  ui.success = kpi('success');
  ui.failure = kpi('failure');
  ui.meterFill = html('span', { class: 'meter-fill' });
  ui.meterMark = html('span', { class: 'meter-mark' });
  ui.rateStatus = html('span', { class: 'rate-status' });
  ui.rate = kpi('rate', [
    html('span', { class: 'meter', 'aria-hidden': 'true' }, [ui.meterFill, ui.meterMark]),
    ui.rateStatus,
  ]);
  ui.forced = kpi('forced');
  const kpis = html(
    'ul',
    { class: 'kpis' },
    [ui.active, ui.success, ui.failure, ui.rate, ui.forced].map((k) => k.root),
  );

  ui.chartTitle = html('h3', { id: 'smw-chart-title' });
  ui.legendSuccess = html('span');
  ui.legendFailure = html('span');
  const legend = html('ul', { class: 'legend' }, [
    html('li', {}, [
      html('span', { class: 'swatch swatch-success', 'aria-hidden': 'true' }),
      ui.legendSuccess,
    ]),
    html('li', {}, [
      html('span', { class: 'swatch swatch-failure', 'aria-hidden': 'true' }),
      ui.legendFailure,
    ]),
  ]);
  ui.chartEmpty = html('p', { class: 'chart-empty', hidden: true });
  ui.chart = html('div', { class: 'chart' }, [ui.chartEmpty]);
  ui.chartNote = html('p', { class: 'chart-note' });
  ui.chartSummary = html('summary');
  ui.chartTable = headedTable('chart-table', ['', 'num', 'num', 'num']);
  ui.chartTableScroll = html('div', { class: 'table-scroll', tabindex: '0', role: 'region' }, [
    ui.chartTable.table,
  ]);
  ui.chartDetails = html('details', {}, [ui.chartSummary, ui.chartTableScroll]);
  const chartPanel = html('section', { class: 'panel', 'aria-labelledby': 'smw-chart-title' }, [
    html('div', { class: 'panel-head' }, [ui.chartTitle, legend]),
    ui.chart,
    ui.chartNote,
    ui.chartDetails,
  ]);

  ui.sitesTitle = html('h3', { id: 'smw-sites-title' });
  ui.sitesTable = headedTable('sites-table', ['', 'num']);
  ui.sitesTable.table.setAttribute('aria-labelledby', 'smw-sites-title');
  const sitesPanel = html('section', { class: 'panel', 'aria-labelledby': 'smw-sites-title' }, [
    html('div', { class: 'panel-head' }, [ui.sitesTitle]),
    ui.sitesTable.table,
  ]);

  ui.topTitle = html('h3', { id: 'smw-top-title' });
  ui.rankingSwitch = segmented('ranking', RANKINGS, 'smw-ranking-label');
  ui.topTable = headedTable('top-table', ['rank', '', 'num']);
  ui.topTable.table.setAttribute('aria-labelledby', 'smw-top-title');
  ui.topNote = html('p', { class: 'top-note' });
  ui.pagerRange = html('span', { class: 'pager-range' });
  ui.previousButton = html('button', { type: 'button', class: 'previous-button' });
  ui.nextButton = html('button', { type: 'button', class: 'next-button' });
  ui.pager = html('nav', { class: 'pager' }, [ui.pagerRange, ui.previousButton, ui.nextButton]);
  ui.topSection = html('section', { class: 'top', 'aria-labelledby': 'smw-top-title' }, [
    html('div', { class: 'top-head' }, [ui.topTitle, ui.rankingSwitch.root]),
    ui.topTable.table,
    ui.topNote,
    ui.pager,
  ]);

  ui.card = html('section', { class: 'card', 'aria-labelledby': 'smw-title' }, [
    html('div', { class: 'header' }, [ui.title, ui.windowSwitch.root]),
    html('div', { class: 'meta' }, [ui.updated, ui.cadence, ui.refreshButton]),
    ui.banner,
    ui.announcer,
    kpis,
    html('div', { class: 'panels' }, [chartPanel, sitesPanel]),
    ui.topSection,
  ]);
  shadowRoot.append(ui.card);
  return ui;
}

/** Replaces the four headings with elements of the requested level (2 to 5 for the title). */
export function applyHeadingLevel(ui, level) {
  const swap = (key, tagLevel) => {
    const current = ui[key];
    const tag = `h${Math.min(tagLevel, 6)}`;
    if (current.localName === tag) return;
    const replacement = document.createElement(tag);
    replacement.id = current.id;
    replacement.textContent = current.textContent;
    current.replaceWith(replacement);
    ui[key] = replacement;
  };
  swap('title', level);
  for (const key of ['chartTitle', 'sitesTitle', 'topTitle']) swap(key, level + 1);
}

/** Writes every label that does not depend on data. */
export function applyTexts(ui, t) {
  ui.title.textContent = t.title;
  ui.windowSwitch.label.textContent = t.windowLegend;
  for (const [value, { text }] of Object.entries(ui.windowSwitch.inputs))
    text.textContent = t[`window.${value}`];
  ui.refreshButton.textContent = t.refreshNow;
  ui.retryButton.textContent = t.retry;

  ui.active.label.textContent = t.activeLabel;
  ui.success.label.textContent = t.successLabel;
  ui.failure.label.textContent = t.failureLabel;
  ui.rate.label.textContent = t.rateLabel;
  ui.forced.label.textContent = t.forcedLabel;

  ui.legendSuccess.textContent = t.chartSuccess;
  ui.legendFailure.textContent = t.chartFailure;
  ui.chartEmpty.textContent = t.chartEmpty;
  ui.chartSummary.textContent = t.chartTableToggle;
  ui.chartTableScroll.setAttribute('aria-label', t.chartTableToggle);
  const [start, success, failure, forced] = ui.chartTable.cells;
  start.textContent = t.chartColStart;
  success.textContent = t.chartSuccess;
  failure.textContent = t.chartFailure;
  forced.textContent = t.chartColForced;

  ui.sitesTitle.textContent = t.sitesTitle;
  ui.sitesTable.cells[0].textContent = t.sitesColSite;
  ui.sitesTable.cells[1].textContent = t.sitesColCount;

  ui.topTitle.textContent = t.topTitle;
  ui.rankingSwitch.label.textContent = t.topLegend;
  for (const [value, { text }] of Object.entries(ui.rankingSwitch.inputs))
    text.textContent = t[`top.${value}`];
  ui.topTable.cells[0].textContent = t.topColRank;
  ui.topTable.cells[2].textContent = t.topColCount;
  ui.topNote.textContent = t.topIpNote;
  ui.pager.setAttribute('aria-label', t.topPagerLabel);
  ui.previousButton.textContent = t.topPrevious;
  ui.nextButton.textContent = t.topNext;
}
