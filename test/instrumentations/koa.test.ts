import t from 'tap'
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { AddressInfo } from 'node:net'
import agent from 'apm'
import { startReceiver } from '../helpers/receiver'
import { request, transactionFor } from './express-scenarios'
import { koaScenarios } from './koa-scenarios'

// koa 3 (@koa/router 15, koa-router 14) from the root devDependencies; koa 2 (@koa/router 12, koa-router 12)
// from its workspace (test/versions/koa2).
const ROOT = join(__dirname, '..', '..')
const VERSIONS = [
  { label: 'koa 3', from: join(ROOT, 'package.json') },
  { label: 'koa 2', from: join(ROOT, 'test', 'versions', 'koa2', 'package.json') }
]
const { build } = require('../fixtures/koa-routes.cjs')

function load (from: string): { Koa: any, Router: any, KoaRouter: any, versions: string } {
  const req = createRequire(from)
  // Some of these do not export package.json; each is installed next to `from`.
  const versions = ['koa', '@koa/router', 'koa-router'].map((m) => `${m}@${JSON.parse(readFileSync(join(dirname(from), 'node_modules', m, 'package.json'), 'utf8')).version}`).join(', ')
  return { Koa: req('koa'), Router: req('@koa/router'), KoaRouter: req('koa-router'), versions }
}

async function listen (app: any): Promise<{ port: number, close: () => void }> {
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  return { port: (server.address() as AddressInfo).port, close: () => { server.closeAllConnections(); server.close() } }
}

t.test('koa auto-instrumentation', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  agent.start({ serviceName: 'koa-test', serverUrl: receiver.url, flushIntervalMs: 50, logLevel: 'warn' })
  t.teardown(() => agent.shutdown())

  for (const { label, from } of VERSIONS) {
    const mods = load(from)
    t.test(`${label} (${mods.versions})`, async (t) => {
      const { port, close } = await listen(build(mods, agent))
      t.teardown(close)
      koaScenarios(t, receiver, port)
    })

    t.test(`${label}: the explicit middleware next to auto-instrumentation counts each request and error once`, async (t) => {
      const { port, close } = await listen(build(mods, agent, { explicit: true }))
      t.teardown(close)
      t.equal((await request(port, '/api/users/1')).status, 200)
      t.equal((await request(port, '/err/sync')).status, 500)
      t.equal((await transactionFor(receiver, port, '/api/users/1')).name, 'GET /api/users/:id')
      const failed = await transactionFor(receiver, port, '/err/sync')
      await receiver.waitForLogs(1, (l) => l.traceId === failed.traceId)
      await new Promise((resolve) => setTimeout(resolve, 200))
      t.equal(receiver.spans().filter((s) => s.attributes['server.port'] === port).length, 2, 'one transaction per request')
      t.equal(receiver.logs().filter((l) => l.traceId === failed.traceId).length, 1, 'one error per error')
    })
  }

  t.test("koa's default error logging is kept: apm adds no 'error' listener", async (t) => {
    const { Koa } = load(VERSIONS[0]!.from)
    const app = new Koa()
    app.use(() => { throw new Error('logged by koa') })
    const logged: unknown[] = []
    const original = console.error
    console.error = (...args: unknown[]) => { logged.push(args.join(' ')) }
    t.teardown(() => { console.error = original })
    const { port, close } = await listen(app)
    t.teardown(close)
    t.equal((await request(port, '/x')).status, 500)
    t.equal(app.listenerCount('error'), 1, "only koa's own default listener")
    t.ok(logged.some((l) => String(l).includes('logged by koa')), 'koa logged the error as it does without apm')
  })
})
