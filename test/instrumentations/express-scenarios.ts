// The express scenarios, asserted the same way against an in-process app and against CJS/ESM fixture processes
// (test/fixtures/express-routes.cjs builds the app).
import http from 'node:http'
import type { Test } from 'tap'
import type { Receiver, ReceivedSpan } from '../helpers/receiver'

type T = Test

export interface Answer { status: number, body: any }

export function request (port: number, path: string, options: { method?: string, body?: unknown } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body)
    const req = http.request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: payload === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c) => { text += c })
      res.on('end', () => {
        let body: unknown = text
        try { body = JSON.parse(text) } catch {}
        resolve({ status: res.statusCode!, body })
      })
    })
    req.on('error', reject)
    req.end(payload)
  })
}

/** The SERVER transaction of the request to `path` on this port. */
export async function transactionFor (receiver: Receiver, port: number, path: string): Promise<ReceivedSpan> {
  const [tx] = await receiver.waitForSpans(1, (s) => s.kind === 2 && s.attributes['server.port'] === port && s.attributes['url.path'] === path)
  return tx!
}

const NAMED: Array<[string, string, string]> = [
  // [request path, transaction name, http.route]
  ['/hello', 'GET /hello', '/hello'],
  ['/users/42', 'GET /users/:id', '/users/:id'],
  ['/api/users/7', 'GET /api/users/:id', '/api/users/:id'],
  ['/api/v2/items/abc', 'GET /api/v2/items/:itemId', '/api/v2/items/:itemId'],
  ['/orgs/acme/repos/apm', 'GET /orgs/:orgId/repos/:repo', '/orgs/:orgId/repos/:repo'],
  ['/admin/stats/cpu', 'GET /admin/stats/:kind', '/admin/stats/:kind'],
  ['/regex/123', 'GET /^\\/regex\\/\\d+$/', '/^\\/regex\\/\\d+$/'],
  ['/alias-b/1', 'GET /alias-a/:x,/alias-b/:x', '/alias-a/:x,/alias-b/:x']
]

export function expressScenarios (t: T, receiver: Receiver, port: number): void {
  t.test('transactions are named METHOD <route template> across mount paths, nested routers, sub-apps, regex and array routes', async (t) => {
    for (const [path, name, route] of NAMED) {
      const answer = await request(port, path)
      t.equal(answer.status, 200, path)
      const tx = await transactionFor(receiver, port, path)
      t.equal(tx.name, name, path)
      t.equal(tx.attributes['http.route'], route, `http.route of ${path}`)
      t.equal(tx.attributes['http.response.status_code'], 200)
      t.equal(answer.body.traceId, tx.traceId, 'the handler ran with its transaction current')
    }
  })

  t.test('a request no route matched is named METHOD unknown route, never the raw path', async (t) => {
    t.equal((await request(port, '/no/such/page/123')).status, 404)
    const tx = await transactionFor(receiver, port, '/no/such/page/123')
    t.equal(tx.name, 'GET unknown route')
    t.equal(tx.attributes['http.route'], undefined)
    t.equal(tx.attributes['http.response.status_code'], 404)
  })

  t.test('handlers after a body parser still run in their transaction', async (t) => {
    const answer = await request(port, '/api/echo', { method: 'POST', body: { hello: 'world' } })
    t.equal(answer.status, 200)
    const tx = await transactionFor(receiver, port, '/api/echo')
    t.equal(tx.name, 'POST /api/echo')
    t.equal(answer.body.traceId, tx.traceId)
  })

  t.test('a name the app sets wins over the route name', async (t) => {
    await request(port, '/named')
    const tx = await transactionFor(receiver, port, '/named')
    t.equal(tx.name, 'my own name')
  })

  for (const [path, message] of [['/err/sync', 'sync boom'], ['/err/async', 'async boom'], ['/err/next', 'next boom']]) {
    t.test(`an error from ${path} is captured once, unhandled, linked to its 500 transaction`, async (t) => {
      t.equal((await request(port, path!)).status, 500)
      const tx = await transactionFor(receiver, port, path!)
      t.equal(tx.name, 'GET ' + path)
      t.equal(tx.attributes['http.response.status_code'], 500)
      t.equal(tx.status.code, 2)
      const [log] = await receiver.waitForLogs(1, (l) => l.traceId === tx.traceId)
      t.equal(log!.spanId, tx.spanId, 'linked to the transaction')
      t.equal(log!.attributes['exception.message'], message)
      t.equal(log!.attributes['apm.error.handled'], false)
      await new Promise((resolve) => setTimeout(resolve, 150))
      t.equal(receiver.logs().filter((l) => l.traceId === tx.traceId).length, 1, 'captured once')
    })
  }

  t.test("an error the app's own error handler answers is captured once and the transaction has the status sent", async (t) => {
    const answer = await request(port, '/caught/thing/9')
    t.equal(answer.status, 422)
    const tx = await transactionFor(receiver, port, '/caught/thing/9')
    t.equal(tx.name, 'GET /caught/thing/:id')
    t.equal(tx.attributes['http.response.status_code'], 422)
    const [log] = await receiver.waitForLogs(1, (l) => l.traceId === tx.traceId)
    t.equal(log!.attributes['exception.message'], 'caught boom')
    await new Promise((resolve) => setTimeout(resolve, 150))
    t.equal(receiver.logs().filter((l) => l.traceId === tx.traceId).length, 1, 'passed through two error handlers, captured once')
  })

  t.test('an http error with a 4xx status is the answer, not a captured error', async (t) => {
    t.equal((await request(port, '/err/client')).status, 403)
    const tx = await transactionFor(receiver, port, '/err/client')
    t.equal(tx.name, 'GET /err/client')
    t.equal(tx.attributes['http.response.status_code'], 403)
    await new Promise((resolve) => setTimeout(resolve, 150))
    t.equal(receiver.logs().filter((l) => l.traceId === tx.traceId).length, 0)
  })

  t.test('concurrent requests never mix transactions', async (t) => {
    const paths = Array.from({ length: 16 }, (_, i) => `/slow/${(i * 7) % 20}?i=${i}`)
    const answers = await Promise.all(paths.map((p) => request(port, p)))
    const txs = await receiver.waitForSpans(16, (s) => s.kind === 2 && s.attributes['server.port'] === port && String(s.attributes['url.path']).startsWith('/slow/'))
    t.equal(txs.length, 16)
    for (const tx of txs) t.equal(tx.name, 'GET /slow/:n')
    const traceIds = new Set(answers.map((a) => a.body.traceId))
    t.equal(traceIds.size, 16, 'each request had its own transaction')
    for (const id of traceIds) t.ok(txs.some((tx) => tx.traceId === id), 'every handler saw its own transaction')
  })
}

/** A short pass over the explicit-middleware path (auto-instrumentation of the framework disabled). */
export function explicitScenarios (t: T, receiver: Receiver, port: number, paths: { route: [string, string], error: string }): void {
  t.test('with the explicit middleware only: route names, 404 naming, one error per error', async (t) => {
    const [path, name] = paths.route
    t.equal((await request(port, path)).status, 200)
    t.equal((await transactionFor(receiver, port, path)).name, name)
    t.equal((await request(port, '/nothing/here')).status, 404)
    t.equal((await transactionFor(receiver, port, '/nothing/here')).name, 'GET unknown route')
    t.equal((await request(port, paths.error)).status, 500)
    const failed = await transactionFor(receiver, port, paths.error)
    t.equal(failed.attributes['http.response.status_code'], 500)
    const [log] = await receiver.waitForLogs(1, (l) => l.traceId === failed.traceId)
    t.equal(log!.spanId, failed.spanId)
    await new Promise((resolve) => setTimeout(resolve, 150))
    t.equal(receiver.logs().filter((l) => l.traceId === failed.traceId).length, 1)
    t.equal(receiver.spans().filter((s) => s.kind === 2 && s.attributes['server.port'] === port).length, 3, 'one transaction per request')
  })
}
