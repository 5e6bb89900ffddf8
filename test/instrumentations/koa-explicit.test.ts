import t from 'tap'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import agent from 'apm'
import { startReceiver } from '../helpers/receiver'
import { koaScenarios } from './koa-scenarios'

const ROOT = join(__dirname, '..', '..')
const VERSIONS = [
  { label: 'koa 3', from: join(ROOT, 'package.json') },
  { label: 'koa 2', from: join(ROOT, 'test', 'versions', 'koa2', 'package.json') }
]
const { build } = require('../fixtures/koa-routes.cjs')

// With http disabled too, the middleware itself starts and ends each request's transaction.
t.test('app.use(agent.middleware.koa()) with koa and http auto-instrumentation disabled', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  agent.start({ serviceName: 'koa-explicit', serverUrl: receiver.url, flushIntervalMs: 50, logLevel: 'warn', disableInstrumentations: ['koa', 'http'] })
  t.teardown(() => agent.shutdown())

  for (const { label, from } of VERSIONS) {
    const req = createRequire(from)
    const mods = { Koa: req('koa'), Router: req('@koa/router'), KoaRouter: req('koa-router') }
    t.test(label, async (t) => {
      const server = build(mods, agent, { explicit: true }).listen(0, '127.0.0.1')
      await new Promise((resolve) => server.once('listening', resolve))
      t.teardown(() => { server.closeAllConnections(); server.close() })
      koaScenarios(t, receiver, (server.address() as AddressInfo).port)
    })
  }
})
