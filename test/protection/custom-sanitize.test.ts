import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { startReceiver } from '../helpers/receiver'
import agent from 'apm'

t.test('a custom sanitizeFieldNames list adds to, and never removes, the redaction of credentials', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  agent.start({ serviceName: 'custom-sanitize', serverUrl: receiver.url, flushIntervalMs: 50, captureHeaders: true, sanitizeFieldNames: ['x-internal-*'], logLevel: 'warn' })
  t.teardown(() => agent.shutdown())
  const server = http.createServer((req, res) => { res.setHeader('set-cookie', 'sid=s3cr3t-cookie'); res.end('ok') })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  await new Promise<void>((resolve) => http.get({
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    path: '/h',
    headers: { authorization: 'Bearer s3cr3t-bearer', cookie: 'sid=s3cr3t-cookie', 'proxy-authorization': 'Basic s3cr3t', 'x-internal-key': 's3cr3t-internal', 'x-visible': 'shown' }
  }, (res) => { res.resume(); res.on('end', resolve) }))
  const [tx] = await receiver.waitForSpans(1, (s) => s.name === 'GET /h')
  const a = tx!.attributes
  t.same(a['http.request.header.authorization'], ['[REDACTED]'])
  t.same(a['http.request.header.cookie'], ['[REDACTED]'])
  t.same(a['http.request.header.proxy-authorization'], ['[REDACTED]'])
  t.same(a['http.request.header.x-internal-key'], ['[REDACTED]'], 'the custom pattern applies')
  t.same(a['http.request.header.x-visible'], ['shown'])
  t.same(a['http.response.header.set-cookie'], ['[REDACTED]'])
  t.notMatch(JSON.stringify(receiver.requests.map((r) => r.body)), /s3cr3t/)
})
