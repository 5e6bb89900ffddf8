// The koa scenarios, asserted the same way against an in-process app and against CJS/ESM fixture processes
// (test/fixtures/koa-routes.cjs builds the app).
import type { Test } from 'tap'
import type { Receiver } from '../helpers/receiver'
import { request, transactionFor } from './express-scenarios'

const NAMED: Array<[string, string, string]> = [
  // [request path, transaction name, http.route]
  ['/orders/42', 'GET /orders/:orderId', '/orders/:orderId'],
  ['/api/users/7', 'GET /api/users/:id', '/api/users/:id'],
  ['/shop/items/abc', 'GET /shop/items/:itemId', '/shop/items/:itemId'],
  ['/legacy/things/9', 'GET /legacy/things/:thingId', '/legacy/things/:thingId']
]

export function koaScenarios (t: Test, receiver: Receiver, port: number): void {
  t.test('transactions are named from the matched @koa/router / koa-router layer, prefixes and nesting included', async (t) => {
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

  t.test('a request no router matched is named METHOD unknown route, never the raw path', async (t) => {
    t.equal((await request(port, '/no/such/page/123')).status, 404)
    const tx = await transactionFor(receiver, port, '/no/such/page/123')
    t.equal(tx.name, 'GET unknown route')
    t.equal(tx.attributes['http.response.status_code'], 404)
  })

  t.test('a handler that read the request body still runs in its transaction', async (t) => {
    const answer = await request(port, '/echo', { method: 'POST', body: { hello: 'world' } })
    t.equal(answer.status, 200)
    const tx = await transactionFor(receiver, port, '/echo')
    t.equal(tx.name, 'POST /echo')
    t.equal(answer.body.traceId, tx.traceId)
  })

  t.test('a name the app sets wins over the route name', async (t) => {
    await request(port, '/named')
    t.equal((await transactionFor(receiver, port, '/named')).name, 'my own name')
  })

  for (const [path, message] of [['/err/sync', 'sync boom'], ['/err/async', 'async boom']]) {
    t.test(`an error thrown by ${path} is captured once, unhandled, and the transaction has koa's 500`, async (t) => {
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

  t.test('a thrown non-Error is captured once (koa wraps it before emitting)', async (t) => {
    t.equal((await request(port, '/err/string')).status, 500)
    const tx = await transactionFor(receiver, port, '/err/string')
    await receiver.waitForLogs(1, (l) => l.traceId === tx.traceId)
    await new Promise((resolve) => setTimeout(resolve, 150))
    t.equal(receiver.logs().filter((l) => l.traceId === tx.traceId).length, 1)
  })

  t.test("an error the app's error middleware answers and emits is captured once with the status sent", async (t) => {
    t.equal((await request(port, '/caught/thing/1')).status, 422)
    const tx = await transactionFor(receiver, port, '/caught/thing/1')
    t.equal(tx.name, 'GET /caught/thing/:id')
    t.equal(tx.attributes['http.response.status_code'], 422)
    const [log] = await receiver.waitForLogs(1, (l) => l.traceId === tx.traceId)
    t.equal(log!.attributes['exception.message'], 'caught boom')
    await new Promise((resolve) => setTimeout(resolve, 150))
    t.equal(receiver.logs().filter((l) => l.traceId === tx.traceId).length, 1)
  })

  t.test('ctx.throw(4xx) is the answer, not a captured error', async (t) => {
    t.equal((await request(port, '/err/client')).status, 403)
    const tx = await transactionFor(receiver, port, '/err/client')
    t.equal(tx.name, 'GET /err/client')
    await new Promise((resolve) => setTimeout(resolve, 150))
    t.equal(receiver.logs().filter((l) => l.traceId === tx.traceId).length, 0)
  })

  t.test('concurrent requests never mix transactions', async (t) => {
    const paths = Array.from({ length: 16 }, (_, i) => `/slow/${(i * 7) % 20}?i=${i}`)
    const answers = await Promise.all(paths.map((p) => request(port, p)))
    const txs = await receiver.waitForSpans(16, (s) => s.kind === 2 && s.attributes['server.port'] === port && String(s.attributes['url.path']).startsWith('/slow/'))
    for (const tx of txs) t.equal(tx.name, 'GET /slow/:n')
    const traceIds = new Set(answers.map((a) => a.body.traceId))
    t.equal(traceIds.size, 16, 'each request had its own transaction')
    for (const id of traceIds) t.ok(txs.some((tx) => tx.traceId === id), 'every handler saw its own transaction')
  })
}
