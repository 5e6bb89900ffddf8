// @ts-check
// Dashboard pages, rendered on the server from store queries: services, transactions,
// one transaction name, trace waterfall, error groups, one error group, releases.
'use strict'

const { html, raw, ms, time, pct, num, layout } = require('./html.js')
const { lineChart, barChart, COLORS } = require('./charts.js')

/**
 * @typedef {ReturnType<typeof import('../store/queries.js').createQueries>} Queries
 * @typedef {{ range: string, fromUs: number, toUs: number, path: string, query: Record<string, string> }} View
 */

/** @param {string} s */
const svcPath = (s) => `/services/${encodeURIComponent(s)}`
/** @param {string} s @param {string} name @param {string} range */
const txHref = (s, name, range) => `${svcPath(s)}/transactions/view?${new URLSearchParams({ name, range })}`
/** @param {string} id */
const traceHref = (id) => `/traces/${id}`
/** @param {string} s @param {string} key @param {string} range */
const errHref = (s, key, range) => `${svcPath(s)}/errors/${encodeURIComponent(key)}?range=${range}`

/** @param {string} msg */
const empty = (msg) => html`<p class="empty">${msg}</p>`

/** @param {Queries} q @param {View} v */
function servicesPage (q, v) {
  const rows = q.services(v.fromUs, v.toUs)
  const body = rows.length
    ? html`<table class="data"><thead><tr><th>Service</th><th>Environment</th><th class="n">Throughput</th><th class="n">Avg</th><th class="n">p95</th><th class="n">Error rate</th><th class="n">Errors</th><th>Last seen</th></tr></thead><tbody>
${rows.map((s) => html`<tr><td><a href="${svcPath(s.service)}/transactions?range=${v.range}">${s.service}</a></td><td>${s.environments.join(', ')}</td><td class="n">${num(s.throughputPerMin)} tpm</td><td class="n">${ms(s.avgUs)}</td><td class="n">${ms(s.p95Us)}</td><td class="n">${pct(s.errorRate)}</td><td class="n"><a href="${svcPath(s.service)}/errors?range=${v.range}">${s.errors}</a></td><td>${time(s.lastSeenUs)}</td></tr>`)}
</tbody></table>`
    : empty('No data yet. Point an agent at this collector (APM_SERVER_URL) and send some requests.')
  return layout({ title: 'Services', active: 'services', ...v }, body)
}

/**
 * @param {Queries} q @param {View} v @param {string} service @param {{ name?: string, type?: string }} filter
 */
function charts (q, v, service, filter) {
  const s = q.series(service, v.fromUs, v.toUs, filter)
  const common = { fromUs: v.fromUs, toUs: v.toUs, bucketUs: s.bucketUs }
  return html`<div class="charts">${raw(lineChart({
    ...common,
    id: 'latency-chart',
    title: 'Response time',
    format: ms,
    series: [
      { name: 'avg', color: COLORS.avg, points: s.points.map((p) => ({ tUs: p.tUs, v: p.count ? p.avgUs : null })) },
      { name: 'p95', color: COLORS.p95, points: s.points.map((p) => ({ tUs: p.tUs, v: p.count ? p.p95Us : null })) }
    ]
  }))}${raw(barChart({
    ...common,
    id: 'throughput-chart',
    title: 'Throughput',
    name: 'per minute',
    color: COLORS.throughput,
    format: (x) => `${num(x)} tpm`,
    points: s.points.map((p) => ({ tUs: p.tUs, v: p.throughputPerMin }))
  }))}</div>`
}

/** @param {Queries} q @param {View} v @param {string} service @param {string} type */
function transactionsPage (q, v, service, type) {
  const types = q.transactionTypes(service)
  const rows = q.transactions(service, v.fromUs, v.toUs, type || undefined)
  const typeNav = types.length > 1
    ? html`<p class="types">Type: <a class="${type ? '' : 'on'}" href="?range=${v.range}">all</a> ${types.map((t) => html`<a class="${t === type ? 'on' : ''}" href="?${new URLSearchParams({ type: t, range: v.range })}">${t}</a> `)}</p>`
    : raw('')
  const table = rows.length
    ? html`<table class="data" id="transactions"><thead><tr><th>Name</th><th>Type</th><th class="n">Throughput</th><th class="n">Avg</th><th class="n">p50</th><th class="n">p95</th><th class="n">p99</th><th class="n">Error rate</th><th class="n">Count</th></tr></thead><tbody>
${rows.map((t) => html`<tr><td><a href="${txHref(service, t.name, v.range)}">${t.name}</a></td><td>${t.type}</td><td class="n">${num(t.throughputPerMin)} tpm</td><td class="n">${ms(t.avgUs)}</td><td class="n">${ms(t.p50Us)}</td><td class="n">${ms(t.p95Us)}</td><td class="n">${ms(t.p99Us)}</td><td class="n${t.errorRate > 0 ? ' bad' : ''}">${pct(t.errorRate)}</td><td class="n">${t.count}</td></tr>`)}
</tbody></table>`
    : empty('No transactions in this time range.')
  return layout({ title: `${service} · transactions`, service, active: 'transactions', ...v },
    html`${typeNav}${charts(q, v, service, { type: type || undefined })}${table}`)
}

/** @param {Queries} q @param {View} v @param {string} service @param {string} name */
function transactionPage (q, v, service, name) {
  const o = q.overall(service, v.fromUs, v.toUs, name)
  const slow = /** @type {any[]} */ (q.slowest(service, name, v.fromUs, v.toUs, 20))
  const summary = html`<div class="kpis"><div><b>${num(o.throughputPerMin)}</b> tpm</div><div>avg <b>${ms(o.avgUs)}</b></div><div>p50 <b>${ms(o.p50Us)}</b></div><div>p95 <b>${ms(o.p95Us)}</b></div><div>p99 <b>${ms(o.p99Us)}</b></div><div>errors <b>${pct(o.errorRate)}</b></div><div><b>${o.count}</b> in range</div></div>`
  const table = slow.length
    ? html`<h2>Slowest traces</h2><table class="data" id="slowest"><thead><tr><th>Trace</th><th class="n">Duration</th><th>Started</th><th>Result</th><th>Release</th></tr></thead><tbody>
${slow.map((t) => html`<tr><td><a class="mono" href="${traceHref(t.traceId)}">${t.traceId.slice(0, 16)}…</a></td><td class="n">${ms(t.durationUs)}</td><td>${time(t.startUs)}</td><td class="${t.failed ? 'bad' : ''}">${t.httpStatus ?? (t.failed ? 'error' : 'ok')}</td><td>${t.release}</td></tr>`)}
</tbody></table>`
    : empty('No traces of this transaction in this time range.')
  return layout({ title: name, service, active: 'transactions', ...v }, html`${summary}${charts(q, v, service, { name })}${table}`)
}

/** @param {Queries} q @param {View} v @param {string} traceId */
function tracePage (q, v, traceId) {
  const t = q.trace(traceId)
  if (!t.spans.length) return null
  const root = t.spans[0]
  const span = Math.max(1, t.durationUs)
  const rows = t.spans.map((s) => {
    const left = ((s.startUs - t.startUs) / span) * 100
    const width = Math.max(0.3, (s.durationUs / span) * 100)
    const color = s.failed || s.statusCode === 2 ? 'failed' : s.txType ? 'tx' : 'span'
    const detail = [s.attributes['db.query.text'], s.attributes['url.full'], s.attributes['server.address']].filter(Boolean).join(' · ')
    return html`<div class="wf-row"><div class="wf-label" style="padding-left:${s.depth * 14 + 4}px" title="${detail}"><span class="kind k${s.kind}"></span>${s.txType ? html`<a href="${txHref(s.service, s.name, v.range)}">${s.name}</a>` : html`<a class="plain" href="#span-${s.spanId}">${s.name}</a>`}${s.service !== root.service ? html` <small>${s.service}</small>` : ''}</div><div class="wf-track"><div class="wf-bar ${color}" style="left:${left.toFixed(3)}%;width:${width.toFixed(3)}%" title="${s.name}: ${ms(s.durationUs)}"></div>${left + width > 85
      ? html`<span class="wf-dur in" style="right:${(100 - left - width).toFixed(3)}%">${ms(s.durationUs)}</span>`
      : html`<span class="wf-dur" style="left:${(left + width).toFixed(3)}%">${ms(s.durationUs)}</span>`}</div></div>`
  })
  const axis = html`<div class="wf-row wf-axis"><div class="wf-label"></div><div class="wf-track">${[0, 0.25, 0.5, 0.75, 1].map((f) => html`<span style="left:${f * 100}%"${f === 1 ? raw(' class="end"') : ''}>${ms(t.durationUs * f)}</span>`)}</div></div>`
  const KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer']
  const details = t.spans.map((s) => html`<details id="span-${s.spanId}"><summary><b>${s.name}</b> · ${ms(s.durationUs)} · ${KINDS[s.kind] ?? s.kind}${s.statusCode === 2 ? html` · <span class="bad">error${s.statusMessage ? `: ${s.statusMessage}` : ''}</span>` : ''}</summary>
<table class="attrs"><tr><th>span id</th><td class="mono">${s.spanId}</td></tr><tr><th>service</th><td>${s.service} ${s.release}</td></tr>${Object.entries(s.attributes).map(([k, val]) => html`<tr><th>${k}</th><td class="mono">${typeof val === 'string' ? val : JSON.stringify(val)}</td></tr>`)}${(/** @type {any[]} */ (s.events)).map((e) => html`<tr><th>event</th><td>${e.name}${e.attributes['exception.message'] ? `: ${e.attributes['exception.message']}` : ''}</td></tr>`)}</table></details>`)
  const errors = t.errors.length
    ? html`<h2>Errors in this trace</h2><ul>${(/** @type {any[]} */ (t.errors)).map((e) => html`<li><a href="${errHref(e.service, e.groupingKey, v.range)}">${e.type}: ${e.message}</a></li>`)}</ul>`
    : raw('')
  return layout({ title: `Trace ${root.name}`, service: root.service, active: 'transactions', ...v },
    html`<p class="mono">${t.traceId} · ${t.spans.length} spans · ${ms(t.durationUs)} · ${time(t.startUs)}</p><div class="waterfall" id="waterfall">${axis}${rows}</div>${errors}<h2>Span details</h2><div class="span-details">${details}</div>`)
}

/** @param {Queries} q @param {View} v @param {string} service */
function errorsPage (q, v, service) {
  const groups = q.errorGroups(service, v.fromUs, v.toUs)
  const body = groups.length
    ? html`<table class="data" id="error-groups"><thead><tr><th>Error</th><th>Culprit</th><th class="n">In range</th><th class="n">Total</th><th>First seen</th><th>Last seen</th><th>First release</th></tr></thead><tbody>
${groups.map((g) => html`<tr><td><a href="${errHref(service, g.groupingKey, v.range)}"><b>${g.type}</b>: ${String(g.message).slice(0, 140)}</a>${g.handled === 1 ? html` <small class="tag">handled</small>` : g.handled === 0 ? html` <small class="tag bad">unhandled</small>` : ''}</td><td class="mono">${g.culprit}</td><td class="n">${g.count}</td><td class="n">${g.total}</td><td>${time(g.firstSeenUs)}</td><td>${time(g.lastSeenUs)}</td><td>${g.firstRelease}</td></tr>`)}
</tbody></table>`
    : empty('No errors in this time range.')
  return layout({ title: `${service} · errors`, service, active: 'errors', ...v }, body)
}

/** @param {Queries} q @param {View} v @param {string} service @param {string} key */
function errorGroupPage (q, v, service, key) {
  const g = q.errorGroup(service, key, v.fromUs, v.toUs)
  if (!g) return null
  const l = g.latest
  const chart = barChart({
    id: 'occurrences-chart',
    title: 'Occurrences',
    name: 'errors',
    color: COLORS.errors,
    fromUs: v.fromUs,
    toUs: v.toUs,
    bucketUs: g.series.bucketUs,
    format: (x) => String(x),
    points: g.series.points.map((/** @type {{ tUs: number, count: number }} */ p) => ({ tUs: p.tUs, v: p.count }))
  })
  const frames = (/** @type {{ line: string, app: boolean }[]} */ (l.frames)).map((f) => html`<div class="${f.app ? 'frame app' : f.line.trim().startsWith('at ') ? 'frame lib' : 'frame msg'}">${f.line}</div>`)
  return layout({ title: `${l.type}: ${l.message}`.slice(0, 200), service, active: 'errors', ...v }, html`
<div class="kpis"><div><b>${g.total}</b> occurrences</div><div>first seen <b>${time(g.firstSeenUs)}</b></div><div>last seen <b>${time(g.lastSeenUs)}</b></div><div>first release <b>${g.firstRelease || '—'}</b></div></div>
<div class="charts">${raw(chart)}</div>
<h2>Latest occurrence</h2>
<p>${time(l.timeUs)} · release ${l.release || '—'} · ${l.handled === 1 ? 'handled' : l.handled === 0 ? 'unhandled' : ''}
${l.transactionName ? html` · transaction <a href="${txHref(service, l.transactionName, v.range)}">${l.transactionName}</a>` : ''}
${l.traceId ? html` · <a href="${traceHref(l.traceId)}">view trace</a>` : ''}</p>
<p class="mono">culprit: ${l.culprit}</p>
<div class="stack" id="stack">${frames}</div>
<h2>Recent occurrences</h2>
<table class="data"><thead><tr><th>Time</th><th>Message</th><th>Transaction</th><th>Release</th><th>Trace</th></tr></thead><tbody>
${(/** @type {any[]} */ (g.occurrences)).map((o) => html`<tr><td>${time(o.timeUs)}</td><td>${String(o.message).slice(0, 120)}</td><td>${o.transactionName}</td><td>${o.release}</td><td>${o.traceId ? html`<a class="mono" href="${traceHref(o.traceId)}">${o.traceId.slice(0, 16)}…</a>` : ''}</td></tr>`)}
</tbody></table>`)
}

/** @param {Queries} q @param {View} v @param {string} service */
function releasesPage (q, v, service) {
  const rows = q.releases(service)
  const body = rows.length
    ? html`<table class="data" id="releases"><thead><tr><th>Release</th><th>First seen</th><th>Last seen</th><th class="n">Transactions</th><th class="n">Avg</th><th class="n">Error rate</th><th>New error groups</th></tr></thead><tbody>
${rows.map((r) => html`<tr><td><b>${r.version}</b></td><td>${time(r.firstSeenUs)}</td><td>${time(r.lastSeenUs)}</td><td class="n">${r.transactions}</td><td class="n">${ms(r.avgUs)}</td><td class="n">${pct(r.errorRate)}</td><td>${r.newErrorGroups.length ? r.newErrorGroups.map((/** @type {any} */ g) => html`<a class="tag bad" href="${errHref(service, g.groupingKey, v.range)}">${g.type}: ${String(g.message).slice(0, 60)}</a> `) : 'none'}</td></tr>`)}
</tbody></table>`
    : empty('No releases seen. Releases come from the service.version resource attribute (APM_SERVICE_VERSION).')
  return layout({ title: `${service} · releases`, service, active: 'releases', ...v }, body)
}

/** @param {string} message */
function notFoundPage (message) {
  return layout({ title: 'Not found', range: '1h', path: '/' }, html`<p class="empty">${message}</p><p><a href="/">Back to services</a></p>`)
}

module.exports = { servicesPage, transactionsPage, transactionPage, tracePage, errorsPage, errorGroupPage, releasesPage, notFoundPage }
