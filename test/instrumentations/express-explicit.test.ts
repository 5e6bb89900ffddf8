import t from 'tap'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import agent from 'apm'
import { startReceiver } from '../helpers/receiver'
import { expressScenarios } from './express-scenarios'

const ROOT = join(__dirname, '..', '..')
const VERSIONS = [
  { label: 'express 5', from: join(ROOT, 'package.json') },
  { label: 'express 4', from: join(ROOT, 'test', 'versions', 'express4', 'package.json') }
]
const { build } = require('../fixtures/express-routes.cjs')

t.test('before start() the middleware passes every request on unchanged', async (t) => {
  const express = require('express')
  const mw = agent.middleware.express()
  let called = 0
  mw({}, {}, (...args: unknown[]) => { called++; t.same(args, []) })
  t.equal(called, 1)
  t.type(express, 'function')
})

t.test('app.use(agent.middleware.express()) with express auto-instrumentation disabled', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  agent.start({ serviceName: 'express-explicit', serverUrl: receiver.url, flushIntervalMs: 50, logLevel: 'warn', disableInstrumentations: ['express'] })
  t.teardown(() => agent.shutdown())

  for (const { label, from } of VERSIONS) {
    const req = createRequire(from)
    const express = req('express')
    const major = Number(req('express/package.json').version.split('.')[0])
    t.test(label, async (t) => {
      const server = build(express, agent, { major, explicit: true }).listen(0, '127.0.0.1')
      await new Promise((resolve) => server.once('listening', resolve))
      t.teardown(() => { server.closeAllConnections(); server.close() })
      expressScenarios(t, receiver, (server.address() as AddressInfo).port)
    })
  }
})
