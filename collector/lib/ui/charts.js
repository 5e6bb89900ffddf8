// @ts-check
// Server-rendered SVG charts (no client-side build): line charts for response times, bar charts
// for throughput and error counts. Every point carries a <title> so hovering shows its value.
'use strict'

const { esc } = require('./html.js')

const W = 760
const H = 220
const PAD = { l: 64, r: 16, t: 28, b: 28 }

/** @param {number} v */
function nice (v) {
  if (v <= 0) return 1
  const e = Math.pow(10, Math.floor(Math.log10(v)))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * e >= v) return m * e
  return 10 * e
}

/** @param {number} us */
function hhmm (us) {
  return new Date(us / 1000).toISOString().slice(11, 16)
}

/**
 * @param {{ fromUs: number, toUs: number, max: number, format: (v: number) => string, title: string, legend: { name: string, color: string }[] }} o
 */
function frame (o) {
  const top = nice(o.max)
  const iw = W - PAD.l - PAD.r
  const ih = H - PAD.t - PAD.b
  const x = (/** @type {number} */ t) => PAD.l + ((t - o.fromUs) / (o.toUs - o.fromUs)) * iw
  const y = (/** @type {number} */ v) => PAD.t + ih - (v / top) * ih
  let g = ''
  for (let i = 0; i <= 4; i++) {
    const v = (top / 4) * i
    g += `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/>`
    g += `<text x="${PAD.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" class="tick">${i ? esc(o.format(v)) : '0'}</text>`
  }
  for (let i = 0; i <= 5; i++) {
    const t = o.fromUs + ((o.toUs - o.fromUs) / 5) * i
    g += `<text x="${x(t).toFixed(1)}" y="${H - 8}" text-anchor="middle" class="tick">${hhmm(t)}</text>`
  }
  let lx = PAD.l
  let legend = `<text x="${PAD.l}" y="16" class="ctitle">${esc(o.title)}</text>`
  lx += o.title.length * 9 + 20
  for (const l of o.legend) {
    legend += `<rect x="${lx}" y="8" width="12" height="10" fill="${l.color}"/><text x="${lx + 16}" y="17" class="tick">${esc(l.name)}</text>`
    lx += l.name.length * 7 + 36
  }
  return { x, y, iw, ih, top, grid: g + legend }
}

/**
 * @param {{ title: string, fromUs: number, toUs: number, bucketUs: number, format: (v: number) => string,
 *   series: { name: string, color: string, points: { tUs: number, v: number | null }[] }[], id?: string }} o
 */
function lineChart (o) {
  const max = Math.max(0, ...o.series.flatMap((s) => s.points.map((p) => p.v ?? 0)))
  const f = frame({ ...o, max, legend: o.series })
  let body = ''
  // Drawn last-listed first, so the first series (avg) stays visible where lines coincide.
  for (const s of [...o.series].reverse()) {
    let d = ''
    let pen = false
    let dots = ''
    for (const p of s.points) {
      if (p.v === null) { pen = false; continue }
      const px = f.x(p.tUs + o.bucketUs / 2).toFixed(1)
      const py = f.y(p.v).toFixed(1)
      d += `${pen ? 'L' : 'M'}${px} ${py}`
      pen = true
      dots += `<circle cx="${px}" cy="${py}" r="3" fill="${s.color}"><title>${esc(s.name)} ${hhmm(p.tUs)}: ${esc(o.format(p.v))}</title></circle>`
    }
    body += `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2.5" stroke-linejoin="round"/>${dots}`
  }
  return `<svg class="chart" ${o.id ? `id="${esc(o.id)}" ` : ''}viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.title)}">${f.grid}${body}</svg>`
}

/**
 * @param {{ title: string, fromUs: number, toUs: number, bucketUs: number, format: (v: number) => string, color: string,
 *   name: string, points: { tUs: number, v: number }[], id?: string }} o
 */
function barChart (o) {
  const max = Math.max(0, ...o.points.map((p) => p.v))
  const f = frame({ ...o, max, legend: [{ name: o.name, color: o.color }] })
  const bw = Math.max(1, (o.bucketUs / (o.toUs - o.fromUs)) * f.iw - 1)
  let body = ''
  for (const p of o.points) {
    if (!p.v) continue
    const x0 = Math.max(PAD.l, f.x(p.tUs))
    const y0 = f.y(p.v)
    body += `<rect x="${x0.toFixed(1)}" y="${y0.toFixed(1)}" width="${bw.toFixed(1)}" height="${(PAD.t + f.ih - y0).toFixed(1)}" fill="${o.color}"><title>${hhmm(p.tUs)}: ${esc(o.format(p.v))}</title></rect>`
  }
  return `<svg class="chart" ${o.id ? `id="${esc(o.id)}" ` : ''}viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.title)}">${f.grid}${body}</svg>`
}

const COLORS = { avg: '#2563eb', p95: '#f59e0b', throughput: '#10b981', errors: '#dc2626', transaction: '#6366f1', span: '#14b8a6', failed: '#dc2626' }

module.exports = { lineChart, barChart, COLORS }
