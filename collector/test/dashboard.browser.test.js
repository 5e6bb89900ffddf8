// @ts-check
'use strict'

const t = require('tap')
const { collector } = require('./helpers/collector.js')
const { seed } = require('./helpers/seed.js')
const { launch, browserAvailable, CHROMIUM } = require('./helpers/browser.js')
const { decodePng, countColor, distinctColors } = require('./helpers/png.js')
const { COLORS } = require('../lib/ui/charts.js')

if (!browserAvailable()) {
  t.fail(`${CHROMIUM} is missing: apt-get install -y chromium (or set CHROMIUM_PATH)`)
} else {
  t.test('dashboard pages render real data in Chromium', async (t) => {
    const c = await collector(t)
    const { slowTrace, failedTrace } = await seed(c.url)
    await c.drained()
    const context = await launch(t)
    const page = await context.newPage()
    /** @type {string[]} */
    const problems = []
    page.on('pageerror', (err) => problems.push(String(err)))
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()) })

    /** @param {string} selector */
    const shot = async (selector) => decodePng(await page.locator(selector).first().screenshot())

    await t.test('services page lists the service with its numbers', async (t) => {
      await page.goto(c.url + '/')
      const row = page.locator('table.data tbody tr').first()
      t.match(await row.innerText(), /shop\s+test\s+[\d.]+ tpm\s+[\d.]+ ms\s+[\d.]+ ms\s+[\d.]+ %\s+\d+/)
      const img = await shot('table.data')
      t.ok(distinctColors(img) > 20, 'the table is drawn, not blank')
    })

    await t.test('transactions page draws the response-time chart (avg and p95) and throughput, with the table', async (t) => {
      await page.click('text=shop')
      await page.waitForURL(/\/services\/shop\/transactions/)
      const names = await page.locator('#transactions tbody tr td:first-child').allInnerTexts()
      t.same(names.sort(), ['GET /slow', 'GET /users/:id', 'POST /orders'])
      const latency = await shot('#latency-chart')
      t.ok(countColor(latency, COLORS.avg) > 150, `avg line drawn (${countColor(latency, COLORS.avg)} px)`)
      t.ok(countColor(latency, COLORS.p95) > 150, `p95 line drawn (${countColor(latency, COLORS.p95)} px)`)
      const throughput = await shot('#throughput-chart')
      t.ok(countColor(throughput, COLORS.throughput) > 1000, `throughput bars drawn (${countColor(throughput, COLORS.throughput)} px)`)
      const failing = await page.locator('#transactions tbody tr', { hasText: 'POST /orders' }).innerText()
      t.match(failing, /POST \/orders\s+request\s+[\d.]+ tpm.*\s(16\.7|1[0-9]\.\d) %\s+60/)
    })

    await t.test('one transaction page shows its chart and slowest traces, slowest first', async (t) => {
      await page.click('#transactions >> text=GET /slow')
      await page.waitForURL(/transactions\/view\?name=GET/)
      const durations = await page.locator('#slowest tbody tr td:nth-child(2)').allInnerTexts()
      t.equal(durations.length, 20, 'twenty traces')
      t.equal(durations[0], '800 ms', 'slowest first')
      const img = await shot('#latency-chart')
      t.ok(countColor(img, COLORS.avg) > 150, `avg line drawn (${countColor(img, COLORS.avg)} px)`)
      t.match(await page.locator('.kpis').innerText(), /p99\s+800 ms/)
    })

    await t.test('trace waterfall draws nested span bars along the timeline', async (t) => {
      await page.click('#slowest tbody tr:first-child a')
      await page.waitForURL(new RegExp(`/traces/${slowTrace}`))
      const labels = await page.locator('.wf-row:not(.wf-axis) .wf-label').allInnerTexts()
      t.same(labels.map((l) => l.trim()), ['GET /slow', 'SELECT pg_sleep', 'GET api.example.com'])
      const img = await shot('#waterfall')
      t.ok(countColor(img, COLORS.transaction) > 2000, 'transaction bar')
      t.ok(countColor(img, COLORS.span) > 1000, 'span bars')
      // the child bar starts to the right of the transaction bar's start: check geometry
      const tx = await page.locator('.wf-bar').nth(0).boundingBox()
      const http = await page.locator('.wf-bar').nth(2).boundingBox()
      t.ok(tx && http && http.x > tx.x + tx.width * 0.35 && http.x + http.width < tx.x + tx.width * 0.5, 'the outgoing call sits at 40-47.5 % of the trace')
      await page.click('.wf-label >> text=GET api.example.com')
      const details = page.locator('.span-details details:target')
      // The page opens the target on 'hashchange', which can land just after the click returns.
      await page.waitForFunction(() => document.querySelector('.span-details details:target')?.hasAttribute('open'), null, { timeout: 5000 }).catch(() => {})
      t.equal(await details.getAttribute('open'), '', 'the linked span details open')
      t.match(await details.innerText(), /url\.full\s+https:\/\/api\.example\.com\/rates/, 'clicking a span shows its attributes')
    })

    await t.test('a failed trace shows a red bar and links its error', async (t) => {
      await page.goto(`${c.url}/traces/${failedTrace}`)
      t.ok(countColor(await shot('#waterfall'), COLORS.failed) > 500, 'failed transaction in red')
      t.match(await page.locator('main').innerText(), /Errors in this trace\s+DatabaseError: duplicate key/)
    })

    await t.test('error groups page lists groups with counts, first release and last seen', async (t) => {
      await page.goto(`${c.url}/services/shop/errors`)
      const rows = await page.locator('#error-groups tbody tr').allInnerTexts()
      t.equal(rows.length, 2)
      t.match(rows.find((r) => r.includes('DatabaseError')), /DatabaseError: duplicate key.*unhandled\s+createOrder \(routes\/orders\.js\)\s+10\s+10\s+.*1\.1\.0/s)
      t.match(rows.find((r) => r.includes('TypeError')), /\s5\s+5\s.*1\.0\.0/s)
      t.ok(distinctColors(await shot('#error-groups')) > 20)
    })

    await t.test('one error group highlights application frames in the stack and charts occurrences', async (t) => {
      await page.click('text=DatabaseError')
      await page.waitForURL(/\/errors\/orders-constraint/)
      const app = await page.locator('#stack .frame.app').allInnerTexts()
      t.same(app.map((l) => l.trim()), ['at createOrder (/srv/app/routes/orders.js:31:18)', 'at async handle (/srv/app/app.js:52:5)'])
      t.equal(await page.locator('#stack .frame.lib').count(), 2)
      const stack = await shot('#stack')
      t.ok(countColor(stack, '#fef3c7', 4) > 3000, 'highlight background painted behind app frames')
      t.ok(countColor(stack, '#f59e0b', 20) > 40, 'highlight border')
      t.ok(countColor(await shot('#occurrences-chart'), COLORS.errors) > 300, 'occurrence bars drawn')
      t.match(await page.locator('main').innerText(), /transaction POST \/orders/)
      await page.click('text=view trace')
      await page.waitForURL(/\/traces\//)
      t.match(await page.locator('h1').innerText(), /Trace POST \/orders/)
    })

    await t.test('releases page shows each release with its new error groups', async (t) => {
      await page.goto(`${c.url}/services/shop/releases`)
      const rows = await page.locator('#releases tbody tr').allInnerTexts()
      t.equal(rows.length, 2)
      t.match(rows[0], /^1\.1\.0.*DatabaseError: duplicate key/s)
      t.match(rows[1], /^1\.0\.0.*TypeError/s)
      t.ok(countColor(await shot('#releases'), '#fee2e2', 4) > 200, 'new error groups are tagged in red')
    })

    await t.test('live mode reloads the page by itself', async (t) => {
      await page.goto(`${c.url}/services/shop/transactions?range=1h`)
      await page.click('a.live')
      await page.waitForURL(/refresh=1/)
      t.match(await page.locator('a.live').getAttribute('class'), /on/)
      const reloaded = page.waitForEvent('load', { timeout: 15000 })
      await reloaded
      t.pass('reloaded')
    })

    t.same(problems, [], 'no script errors or failed loads in the pages')

    await t.test('unknown pages answer 404 with a way back', async (t) => {
      const r = await page.goto(`${c.url}/traces/${'f'.repeat(32)}`)
      t.equal(r?.status(), 404)
      t.match(await page.locator('main').innerText(), /Back to services/)
    })
  })
}
