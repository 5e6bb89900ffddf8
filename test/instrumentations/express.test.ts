import t from 'tap'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import agent from 'apm'
import { startReceiver } from '../helpers/receiver'
import { expressScenarios, request, transactionFor } from './express-scenarios'

// express 5 from the root devDependencies, express 4 from its workspace (test/versions/express4).
const ROOT = join(__dirname, '..', '..')
const VERSIONS = [
  { label: 'express 5', from: join(ROOT, 'package.json') },
  { label: 'express 4', from: join(ROOT, 'test', 'versions', 'express4', 'package.json') }
]
const { build } = require('../fixtures/express-routes.cjs')

t.test('express auto-instrumentation', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  agent.start({ serviceName: 'express-test', serverUrl: receiver.url, flushIntervalMs: 50, logLevel: 'warn' })
  t.teardown(() => agent.shutdown())

  for (const { label, from } of VERSIONS) {
    const req = createRequire(from)
    const express = req('express')
    const major = Number(req('express/package.json').version.split('.')[0])
    t.test(`${label} (${req('express/package.json').version})`, async (t) => {
      const server = build(express, agent, { major }).listen(0, '127.0.0.1')
      await new Promise((resolve) => server.once('listening', resolve))
      t.teardown(() => { server.closeAllConnections(); server.close() })
      expressScenarios(t, receiver, (server.address() as AddressInfo).port)
    })

    t.test(`${label}: the explicit middleware next to auto-instrumentation counts each request and error once`, async (t) => {
      const server = build(express, agent, { major, explicit: true }).listen(0, '127.0.0.1')
      await new Promise((resolve) => server.once('listening', resolve))
      t.teardown(() => { server.closeAllConnections(); server.close() })
      const port = (server.address() as AddressInfo).port
      t.equal((await request(port, '/api/users/1')).status, 200)
      t.equal((await request(port, '/err/sync')).status, 500)
      const ok = await transactionFor(receiver, port, '/api/users/1')
      t.equal(ok.name, 'GET /api/users/:id')
      const failed = await transactionFor(receiver, port, '/err/sync')
      await receiver.waitForLogs(1, (l) => l.traceId === failed.traceId)
      await new Promise((resolve) => setTimeout(resolve, 200))
      const mine = receiver.spans().filter((s) => s.attributes['server.port'] === port)
      t.equal(mine.length, 2, 'one transaction per request')
      t.equal(receiver.logs().filter((l) => l.traceId === failed.traceId).length, 1, 'one error per error')
    })
  }
})
