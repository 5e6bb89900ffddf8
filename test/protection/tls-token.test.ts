// Transport security: TLS certificates are verified by default, and the secret token is never logged and never sent
// over plain http to a non-loopback host unless allowInsecureToken says so.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { createServer as createHttpsServer } from 'node:https'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { networkInterfaces, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { startCollector } from '../faults/collector'
import { startApp } from '../faults/app'

const TOKEN = 'tok-SECRET-never-logged-4242'

// A self-signed certificate for 127.0.0.1, made now with openssl.
function selfSigned (): { key: Buffer, cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'apm-tls-'))
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

t.test('an https collector with a self-signed certificate', async (t) => {
  const requests: Array<{ authorization: string | undefined }> = []
  const server = createHttpsServer(selfSigned(), (req, res) => {
    req.resume()
    req.on('end', () => {
      requests.push({ authorization: req.headers.authorization })
      res.end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`

  t.test('is refused by default: the export fails and is counted, the token is not logged', async (t) => {
    const app = await startApp({ APM_SERVER_URL: url, APM_SECRET_TOKEN: TOKEN, APM_LOG_LEVEL: 'trace', APM_MAX_BACKOFF_MS: '100' })
    t.teardown(() => app.child.kill('SIGKILL'))
    await app.send('spans', { n: 3 })
    const r = await app.send('flush', { timeoutMs: 3000 })
    t.equal(r.stats.delivered, 0)
    t.ok(r.stats.failedRequests >= 1, `${r.stats.failedRequests} failed export attempts counted`)
    t.equal(requests.length, 0, 'no request reached the server')
    t.match(app.stderr(), /self[- ]signed certificate/i, 'the log says why')
    t.notMatch(app.stderr(), TOKEN)
  })

  t.test('is accepted with verifyServerCert: false, with the token', async (t) => {
    const app = await startApp({ APM_SERVER_URL: url, APM_SECRET_TOKEN: TOKEN, APM_VERIFY_SERVER_CERT: 'false', APM_LOG_LEVEL: 'trace' })
    t.teardown(() => app.child.kill('SIGKILL'))
    await app.send('spans', { n: 3 })
    const r = await app.send('flush', { timeoutMs: 3000 })
    t.equal(r.stats.delivered, 3)
    t.same(requests.map((q) => q.authorization), [`Bearer ${TOKEN}`])
    t.notMatch(app.stderr(), TOKEN)
  })
})

// A local address that is not loopback (traffic to it never leaves this machine).
const local = Object.values(networkInterfaces()).flat().find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address

t.test('the token over plain http', { skip: local === undefined ? 'no non-loopback local IPv4 address' : false }, async (t) => {
  for (const [host, allow, sent] of [
    ['127.0.0.1', false, true],
    [local!, false, false],
    [local!, true, true]
  ] as const) {
    t.test(`to ${host === '127.0.0.1' ? 'loopback' : 'a non-loopback host'}${allow ? ' with allowInsecureToken' : ''}: ${sent ? 'sent' : 'withheld, with a warning'}`, async (t) => {
      const collector = await startCollector()
      await collector.stop()
      await collector.start(0, undefined, host)
      t.teardown(() => collector.stop())
      const app = await startApp({ APM_SERVER_URL: collector.url, APM_SECRET_TOKEN: TOKEN, APM_ALLOW_INSECURE_TOKEN: String(allow), APM_LOG_LEVEL: 'trace' })
      t.teardown(() => app.child.kill('SIGKILL'))
      await app.send('spans', { n: 1 })
      const r = await app.send('flush', { timeoutMs: 3000 })
      t.equal(r.stats.delivered, 1, 'the data is delivered either way')
      t.same(collector.exchanges.map((e) => e.headers.authorization), [sent ? `Bearer ${TOKEN}` : undefined])
      if (!sent) t.match(app.stderr(), /secretToken is not sent over plain http to a non-loopback host/)
      t.notMatch(app.stderr(), TOKEN, 'the token is never logged')
    })
  }
})
