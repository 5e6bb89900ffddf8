// @ts-check
// HTML building blocks for the dashboard: escaping, formatting of durations/times/rates, layout.
'use strict'

/** @param {unknown} s */
function esc (s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c] ?? c))
}

/** Tagged template: interpolations are escaped unless wrapped with raw(). */
class Raw {
  /** @param {string} s */
  constructor (s) { this.s = s }
  toString () { return this.s }
}
/** @param {string} s */
const raw = (s) => new Raw(s)

/** @param {TemplateStringsArray} strings @param {...unknown} values */
function html (strings, ...values) {
  let out = strings[0]
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    out += (Array.isArray(v) ? v.map((x) => x instanceof Raw ? x.s : esc(x)).join('') : v instanceof Raw ? v.s : esc(v)) + strings[i + 1]
  }
  return raw(out)
}

/** @param {number} us */
function ms (us) {
  const m = us / 1000
  if (m >= 10000) return `${(m / 1000).toFixed(1)} s`
  if (m >= 100) return `${m.toFixed(0)} ms`
  if (m >= 10) return `${m.toFixed(1)} ms`
  return `${m.toFixed(2)} ms`
}

/** @param {number} us */
function time (us) {
  if (!us) return raw('—')
  const iso = new Date(us / 1000).toISOString()
  return html`<time datetime="${iso}">${iso.slice(0, 19).replace('T', ' ')} UTC</time>`
}

/** @param {number} rate 0..1 */
function pct (rate) {
  return `${(rate * 100).toFixed(rate > 0 && rate < 0.01 ? 2 : 1)} %`
}

/** @param {number} n */
function num (n) {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)
}

const RANGES = /** @type {Record<string, number>} */ ({ '15m': 15 * 60e6, '1h': 60 * 60e6, '6h': 6 * 60 * 60e6, '24h': 24 * 60 * 60e6, '7d': 7 * 24 * 60 * 60e6 })

/** A toggle for reloading the page every 10 s (handled by assets/app.js). @param {{ range: string, path: string, query?: Record<string, string> }} page */
function live (page) {
  const on = page.query?.refresh === '1'
  /** @type {Record<string, string>} */
  const q = { ...(page.query ?? {}), range: page.range }
  if (on) delete q.refresh
  else q.refresh = '1'
  return html`<a class="live${on ? ' on' : ''}" href="${page.path}?${new URLSearchParams(q).toString()}" title="reload every 10 s">live</a>`
}

/**
 * @param {{ title: string, service?: string, active?: string, range: string, path: string, query?: Record<string, string> }} page
 * @param {Raw} body
 */
function layout (page, body) {
  const s = page.service
  const tab = (/** @type {string} */ id, /** @type {string} */ href, /** @type {string} */ label) =>
    html`<a class="tab${page.active === id ? ' on' : ''}" href="${href}">${label}</a>`
  const qs = (/** @type {string} */ r) => '?' + new URLSearchParams({ ...(page.query ?? {}), range: r }).toString()
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(page.title)} · apm</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/assets/app.css"></head>
<body><header><a class="brand" href="/">apm</a>${s
    ? html`<span class="svc">${s}</span><nav>${tab('transactions', `/services/${encodeURIComponent(s)}/transactions?range=${page.range}`, 'Transactions')}${tab('errors', `/services/${encodeURIComponent(s)}/errors?range=${page.range}`, 'Errors')}${tab('releases', `/services/${encodeURIComponent(s)}/releases?range=${page.range}`, 'Releases')}</nav>`
    : html`<nav>${tab('services', '/', 'Services')}</nav>`}
<span class="ranges">${raw(Object.keys(RANGES).map((r) => html`<a class="${r === page.range ? 'on' : ''}" href="${page.path + qs(r)}">${r}</a>`).join(''))}${live(page)}</span></header>
<main><h1>${esc(page.title)}</h1>
${body}</main><script src="/assets/app.js" defer></script></body></html>`
}

module.exports = { esc, html, raw, ms, time, pct, num, layout, RANGES, Raw }
