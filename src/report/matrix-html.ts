import type { CellStatus, Matrix, MatrixCell, MatrixKernel, MatrixRow } from './matrix';

/** Cell colours (background, text) by status; the page's CSS is generated from this table. */
export const STATUS_COLOURS: Readonly<Record<CellStatus | 'NONE', { background: string; color: string }>> =
  Object.freeze({
    FAIL: { background: '#d32f2f', color: '#ffffff' },
    ERROR: { background: '#7b1fa2', color: '#ffffff' },
    PASS: { background: '#2e7d32', color: '#ffffff' },
    SKIP: { background: '#bdbdbd', color: '#212121' },
    NONE: { background: '#ffffff', color: '#9e9e9e' },
  });

/** A relative path as a URL path: each segment percent-encoded, so `#`, `?` or `a:b` stay part of the path. */
export function linkHref(relativePath: string): string {
  return relativePath
    .split(/[\\/]/)
    .map((segment) =>
      encodeURIComponent(segment).replace(/[()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
    )
    .join('/');
}

/** Escapes text for HTML content and for double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const e = escapeHtml;

// Only inline style and script: the page must never reach the network, and the policy enforces it.
const CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'";

function css(): string {
  const colours = Object.entries(STATUS_COLOURS)
    .map(([s, c]) => `td.cell[data-status="${s}"] { background: ${c.background}; color: ${c.color}; }`)
    .join('\n');
  return `
body { font: 13px/1.35 system-ui, sans-serif; margin: 0; color: #212121; }
header { padding: 8px 12px; background: #fafafa; border-bottom: 1px solid #ddd; }
header { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
header h1 { font-size: 16px; margin: 0 12px 0 0; }
#grid { overflow: auto; max-height: calc(100vh - 48px); }
table#matrix { border-collapse: separate; border-spacing: 0; }
#matrix th, #matrix td { border-bottom: 1px solid #e0e0e0; border-right: 1px solid #e0e0e0; padding: 3px 6px; }
#matrix thead th { position: sticky; top: 0; z-index: 2; background: #f5f5f5; }
#matrix thead th { vertical-align: bottom; text-align: center; }
#matrix th.name { position: sticky; left: 0; z-index: 1; background: #fff; text-align: left; }
#matrix thead th.name { z-index: 3; background: #f5f5f5; }
#matrix tbody th.name { font-weight: normal; max-width: 46em; }
th.kernel .release { display: block; font-weight: normal; color: #616161; font-size: 11px; }
th.kernel .error { display: block; color: ${STATUS_COLOURS.ERROR.background}; font-size: 11px; }
th.name code { display: block; color: #757575; font-size: 11px; }
td.suite { color: #616161; }
td.cell { text-align: center; font-weight: 600; min-width: 5em; }
td.cell a { color: inherit; }
#matrix tfoot td, #matrix tfoot th { position: sticky; bottom: 0; z-index: 2; background: #f5f5f5; }
#matrix tfoot td { font-size: 11px; text-align: center; }
#matrix tfoot th.name { z-index: 3; background: #f5f5f5; }
.legend span { padding: 1px 6px; border-radius: 3px; }
${colours}
${Object.entries(STATUS_COLOURS)
  .map(([s, c]) => `.legend .${s} { background: ${c.background}; color: ${c.color}; }`)
  .join('\n')}
`;
}

// Filtering: rows carry data-text (lower-case id, title, rule), data-suite and data-ops; controls hide the rest.
const SCRIPT = `
(function () {
  var filter = document.getElementById('filter');
  var suite = document.getElementById('suite');
  var op = document.getElementById('op');
  var shown = document.getElementById('shown');
  var rows = Array.prototype.slice.call(document.querySelectorAll('#matrix tbody tr'));
  function apply() {
    var words = filter.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var n = 0;
    rows.forEach(function (row) {
      var text = row.getAttribute('data-text');
      var ok = words.every(function (w) { return text.indexOf(w) >= 0; })
        && (!suite.value || row.getAttribute('data-suite') === suite.value)
        && (!op.value || row.getAttribute('data-ops').split(' ').indexOf(op.value) >= 0);
      row.hidden = !ok;
      if (ok) n++;
    });
    shown.textContent = n + ' of ' + rows.length + ' tests';
  }
  filter.addEventListener('input', apply);
  suite.addEventListener('change', apply);
  op.addEventListener('change', apply);
  apply();
})();
`;

function options(values: string[], all: string): string {
  return [`<option value="">${e(all)}</option>`, ...values.map((v) => `<option value="${e(v)}">${e(v)}</option>`)].join(
    '',
  );
}

function kernelHeader(k: MatrixKernel): string {
  const release = k.release ? `<span class="release">${e(k.release)}</span>` : '';
  const error = k.error ? `<span class="error" title="${e(k.error)}">could not run</span>` : '';
  const label = `<span class="label">${e(k.kernel)}</span>`;
  return `<th class="kernel" scope="col" data-kernel="${e(k.kernel)}">${label}${release}${error}</th>`;
}

function cellHtml(row: MatrixRow, k: MatrixKernel, cell: MatrixCell | null): string {
  const kernel = `data-kernel="${e(k.kernel)}"`;
  if (!cell) return `<td class="cell" ${kernel} data-status="NONE" title="no result">—</td>`;
  const title = `${row.id} on ${k.kernel}: ${cell.status}${cell.reason ? ` — ${cell.reason}` : ''}`;
  const text = cell.link ? `<a href="${e(linkHref(cell.link))}">${cell.status}</a>` : cell.status;
  return `<td class="cell" ${kernel} data-status="${cell.status}" title="${e(title)}">${text}</td>`;
}

function totalsCell(k: MatrixKernel): string {
  const t = k.totals;
  const counts = `data-pass="${t.PASS}" data-fail="${t.FAIL}" data-error="${t.ERROR}" data-skip="${t.SKIP}"`;
  const data = `data-kernel="${e(k.kernel)}" ${counts}`;
  const absent = t.absent ? ` · ${t.absent} —` : '';
  const text = `${t.PASS} pass · ${t.FAIL} fail · ${t.ERROR} error · ${t.SKIP} skip${absent}`;
  const console = k.consoleLog ? `<br><a href="${e(linkHref(k.consoleLog))}">console log</a>` : '';
  return `<td class="total" ${data}>${text}${console}</td>`;
}

/**
 * The matrix as one self-contained HTML page (inline CSS and script, a Content-Security-Policy that forbids
 * every fetch): a colour grid with a sticky header of kernels, a text filter (`input#filter`), an interface
 * selector (`select#suite`) and an operation selector (`select#op`), per-kernel totals, cells linking to logs.
 */
export function toMatrixHtml(matrix: Matrix): string {
  const suites = [...new Set(matrix.rows.map((r) => r.suite))].sort();
  const ops = [...new Set(matrix.rows.flatMap((r) => r.ops))].sort();
  const body = matrix.rows.map((row, r) => {
    const text = [row.id, row.title, row.rule ?? ''].join(' ').toLowerCase();
    const id = row.title === row.id ? '' : `<code class="id">${e(row.id)}</code>`;
    const name = `<th class="name" scope="row"><span class="title">${e(row.title)}</span>${id}</th>`;
    const cells = matrix.kernels.map((k, i) => cellHtml(row, k, matrix.cells[r][i])).join('');
    const ops = e(row.ops.join(' '));
    const data = `data-id="${e(row.id)}" data-suite="${e(row.suite)}" data-ops="${ops}" data-text="${e(text)}"`;
    return `<tr ${data}>${name}<td class="suite">${e(row.suite)}</td>${cells}</tr>`;
  });
  const kernelHeads = matrix.kernels.map(kernelHeader).join('');
  const totals = matrix.kernels.map(totalsCell).join('');
  const legend = (['FAIL', 'ERROR', 'PASS', 'SKIP'] as const).map((s) => `<span class="${s}">${s}</span>`).join(' ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kasync kernel × test matrix</title>
<style>${css()}</style>
</head>
<body>
<header>
<h1>kasync kernel × test matrix</h1>
<input id="filter" type="search" placeholder="filter tests" aria-label="filter tests">
<select id="suite" aria-label="interface">${options(suites, 'all interfaces')}</select>
<select id="op" aria-label="operation">${options(ops, 'all operations')}</select>
<span id="shown"></span>
<span class="legend">${legend}</span>
</header>
<div id="grid">
<table id="matrix">
<thead><tr><th class="name" scope="col">Test</th><th scope="col">Interface</th>${kernelHeads}</tr></thead>
<tbody>
${body.join('\n')}
</tbody>
<tfoot><tr id="totals"><th class="name" scope="row">Totals</th><td></td>${totals}</tr></tfoot>
</table>
</div>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
