import t from 'tap'
import http from 'node:http'
import diagnosticsChannel from 'node:diagnostics_channel'
import type { AddressInfo } from 'node:net'
import { request as undiciRequest } from 'undici'
import { startReceiver } from '../helpers/receiver'
import agent from 'apm'

const CLIENT = 3

t.test("the agent's own export requests are never traced, even when exports start inside a transaction", async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  agent.start({ serviceName: 'undici-export-test', serverUrl: receiver.url, flushIntervalMs: 10, logLevel: 'warn' })

  const downstream = http.createServer((req, res) => { req.resume(); res.end('ok') })
  await new Promise<void>((resolve) => downstream.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { downstream.closeAllConnections(); downstream.close() })
  const base = `http://127.0.0.1:${(downstream.address() as AddressInfo).port}`

  // The app fetches inside transactions while the agent exports every 10 ms; every third round the app also
  // flushes from inside its transaction, so an export starts in a traced context.
  const ROUNDS = 15
  const traceIds: string[] = []
  for (let i = 0; i < ROUNDS; i++) {
    const tx = agent.beginTransaction(`round-${i}`, 'job')!
    traceIds.push(tx.traceId)
    await (await fetch(`${base}/round/${i}`)).text()
    if (i % 3 === 0) await agent.flush()
    await (await undiciRequest(`${base}/round/${i}/npm`)).body.text()
    agent.endTransaction()
  }
  // Control: the same origin, called by the app inside a transaction, is traced, so the instrumentation does
  // see requests to the receiver; it is the export path that keeps them out.
  const control = agent.beginTransaction('control', 'job')!
  await (await fetch(`${receiver.url}/app-call`)).text()
  agent.endTransaction()
  await agent.flush()

  await receiver.waitForSpans(ROUNDS * 2, (s) => s.kind === CLIENT && traceIds.includes(s.traceId))
  const [controlSpan] = await receiver.waitForSpans(1, (s) => s.kind === CLIENT && s.traceId === control.traceId)
  t.equal(controlSpan!.attributes['url.full'], `${receiver.url}/app-call`, 'an app call to the receiver is traced')
  t.ok(receiver.requests.find((r) => r.path === '/app-call')?.headers.traceparent, 'and carries traceparent')

  const exports = receiver.requests.filter((r) => r.path.startsWith('/v1/'))
  t.ok(exports.length >= 3, `several export requests were made (${exports.length})`)
  t.notOk(exports.some((r) => r.headers.traceparent !== undefined || r.headers.tracestate !== undefined), 'no export request carries trace context')
  const exportSpans = receiver.spans().filter((s) => /\/v1\/(traces|logs|metrics)/.test(String(s.attributes['url.full'])) || /\/v1\//.test(s.name))
  t.same(exportSpans.map((s) => s.name), [], 'no span names an export request')

  await agent.shutdown()
  t.equal(diagnosticsChannel.channel('undici:request:create').hasSubscribers, false, 'shutdown unsubscribes: undici publishes nothing')
  const after: http.IncomingHttpHeaders[] = []
  downstream.on('request', (req) => after.push(req.headers))
  await (await fetch(`${base}/after-shutdown`)).text()
  t.equal(after[0]?.traceparent, undefined, 'no trace context after shutdown')
})
