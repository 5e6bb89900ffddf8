import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { startReceiver } from './helpers/receiver'
import agent from 'apm'

// One agent per test file (tap runs each file in its own process).
t.test('incoming requests on node:http become SERVER transactions', async (t) => {
  const receiver = await startReceiver()
  t.teardown(() => receiver.close())
  agent.start({ serviceName: 'http-server-test', serverUrl: receiver.url, flushIntervalMs: 50, logLevel: 'warn' })
  t.teardown(() => agent.shutdown())

  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/boom')) {
      res.statusCode = 503
      res.end('down')
    } else if (req.url?.startsWith('/slow')) {
      setTimeout(() => res.end('slow'), 60)
    } else if (req.url?.startsWith('/hang')) {
      // never answers: the client aborts
    } else {
      res.setHeader('content-type', 'text/plain')
      res.end('ok')
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const port = (server.address() as AddressInfo).port
  const get = (path: string, headers: Record<string, string> = {}): Promise<number> => new Promise((resolve, reject) => {
    http.get({ port, host: '127.0.0.1', path, headers: { 'user-agent': 'test-client/1.0', ...headers } }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode!))
    }).on('error', reject)
  })

  t.test('a 200 response: name, semantic-convention attributes, status unset, duration', async (t) => {
    t.equal(await get('/users/42?token=secret'), 200)
    const [tx] = await receiver.waitForSpans(1, (s) => s.attributes['url.path'] === '/users/42')
    t.equal(tx!.name, 'GET /users/42')
    t.equal(tx!.kind, 2, 'kind SERVER')
    t.equal(tx!.parentSpanId, undefined)
    t.match(tx!.attributes, {
      'apm.transaction.type': 'request',
      'apm.transaction.result': 'HTTP 2xx',
      'http.request.method': 'GET',
      'url.path': '/users/42',
      'url.scheme': 'http',
      'server.address': '127.0.0.1',
      'server.port': port,
      'http.response.status_code': 200,
      'user_agent.original': 'test-client/1.0',
      'client.address': '127.0.0.1',
      'network.protocol.version': '1.1'
    })
    t.notOk(JSON.stringify(tx!.raw).includes('secret'), 'the query string is not recorded')
    t.equal(tx!.status.code, 0)
    t.match(tx!.traceId, /^[0-9a-f]{32}$/)
    t.match(tx!.spanId, /^[0-9a-f]{16}$/)
    t.ok(tx!.duration > 0 && tx!.duration < 5000, `duration ${tx!.duration} ms`)
  })

  t.test('a 5xx response marks the transaction failed', async (t) => {
    t.equal(await get('/boom'), 503)
    const [tx] = await receiver.waitForSpans(1, (s) => s.attributes['url.path'] === '/boom')
    t.equal(tx!.status.code, 2)
    t.equal(tx!.attributes['http.response.status_code'], 503)
    t.equal(tx!.attributes['apm.transaction.result'], 'HTTP 5xx')
  })

  t.test('the duration covers the time until the response finished', async (t) => {
    await get('/slow')
    const [tx] = await receiver.waitForSpans(1, (s) => s.attributes['url.path'] === '/slow')
    t.ok(tx!.duration >= 55, `duration ${tx!.duration} ms`)
  })

  t.test('a request the client aborts is recorded as aborted, not leaked', async (t) => {
    await new Promise<void>((resolve) => {
      const req = http.get({ port, host: '127.0.0.1', path: '/hang' })
      req.on('error', () => resolve())
      setTimeout(() => req.destroy(), 50)
    })
    const [tx] = await receiver.waitForSpans(1, (s) => s.attributes['url.path'] === '/hang')
    t.equal(tx!.attributes['apm.aborted'], true)
    t.equal(tx!.attributes['apm.transaction.result'], 'aborted')
    t.equal(tx!.attributes['http.response.status_code'], undefined, 'no status was sent')
  })

  t.test('unknown methods are recorded as _OTHER, keeping names low-cardinality', async (t) => {
    await new Promise<void>((resolve, reject) => {
      http.request({ port, host: '127.0.0.1', path: '/m', method: 'PROPFIND' }, (res) => { res.resume(); res.on('end', resolve) }).on('error', reject).end()
    })
    const [tx] = await receiver.waitForSpans(1, (s) => s.attributes['url.path'] === '/m')
    t.equal(tx!.name, '_OTHER /m')
    t.equal(tx!.attributes['http.request.method_original'], 'PROPFIND')
  })

  t.test('handlers run with their transaction as the current one', async (t) => {
    const seen: Array<string | undefined> = []
    const s2 = http.createServer((req, res) => {
      seen.push(agent.currentTransaction?.name)
      setTimeout(() => { seen.push(agent.currentTransaction?.name); res.end() }, 5)
    })
    await new Promise<void>((resolve) => s2.listen(0, '127.0.0.1', resolve))
    t.teardown(() => s2.close())
    await new Promise<void>((resolve) => http.get({ port: (s2.address() as AddressInfo).port, path: '/ctx' }, (res) => { res.resume(); res.on('end', resolve) }))
    t.same(seen, ['GET /ctx', 'GET /ctx'])
    t.equal(agent.currentTransaction, null, 'no transaction leaks into the test')
  })
})
