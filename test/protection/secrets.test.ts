// Data protection: secrets planted in headers, query strings, URL credentials and PostgreSQL statements, parameters
// and errors never leave the process — not in any request the collector got, not in the agent's own trace log.
import t, { type Test } from 'tap'
import { startCollector, type Collector } from '../faults/collector'
import { runFixture } from '../helpers/child'
import { startPostgres } from '../helpers/postgres'

// Each secret as planted, and in the encodings it could travel in (URL-encoded, base64 of user:password).
function forms (secrets: Record<string, string>): string[] {
  const out = new Set<string>()
  for (const value of Object.values(secrets)) {
    out.add(value)
    out.add(encodeURIComponent(value))
    out.add(Buffer.from('user:' + value).toString('base64'))
  }
  return [...out]
}

async function run (t: Test, env: Record<string, string>): Promise<{ collector: Collector, secrets: Record<string, string>, stderr: string }> {
  const collector = await startCollector()
  t.teardown(() => collector.stop())
  const r = await runFixture('fault-secrets.js', { env: { APM_SERVER_URL: collector.url, APM_LOG_LEVEL: 'trace', ...env } })
  t.equal(r.code, 0, r.stderr)
  return { collector, secrets: JSON.parse(r.stdout), stderr: r.stderr }
}

function assertNoLeak (t: Test, where: string, text: string, secrets: Record<string, string>): void {
  const leaked = forms(secrets).filter((s) => text.includes(s))
  t.same(leaked, [], `no planted secret in ${where}`)
}

t.test('secrets planted in http, fetch and PostgreSQL traffic never leave the process', async (t) => {
  const db = await startPostgres()
  t.teardown(() => db.stop())

  // The default list plus a glob of the app's own: a configured list replaces the default one.
  const custom = 'password,passwd,pwd,secret,token,key,auth,session,cookie,credit,card,csrf,jwt,sid,x-internal-*'
  for (const [captureHeaders, fieldNames] of [[false, undefined], [true, undefined], [true, custom]] as const) {
    t.test(`with captureHeaders ${captureHeaders}${fieldNames === undefined ? '' : ' and sanitizeFieldNames configured'}: nothing planted reaches the collector or the trace log`, async (t) => {
      const env: Record<string, string> = { APM_CAPTURE_HEADERS: String(captureHeaders), PG_URL: db.url }
      if (fieldNames !== undefined) Object.assign(env, { APM_SANITIZE_FIELD_NAMES: fieldNames, CUSTOM_FIELD: '1' })
      const { collector, secrets, stderr } = await run(t, env)
      const everything = collector.everything()
      t.ok(collector.spanCount() >= 15, `${collector.spanCount()} spans received`)
      t.ok(Object.keys(secrets).length >= 27, `${Object.keys(secrets).length} secrets planted`)
      assertNoLeak(t, 'what the collector received (paths, headers, bodies)', everything, secrets)
      assertNoLeak(t, 'the agent log at level trace', stderr, secrets)
      t.match(stderr, /apm (trace|debug)/, 'the log was verbose')
      const headerAttributes: string[] = everything.match(/"http\.(request|response)\.header\.[a-z-]+"/g) ?? []
      if (!captureHeaders) {
        t.same(headerAttributes, [], 'headers are not captured by default')
      } else {
        const names = ['authorization', 'cookie', 'x-api-key', 'x-csrf-token', 'x-session-id', 'x-credit-card', 'x-jwt-assertion', 'x-passwd', 'x-pwd', 'x-client-secret', 'proxy-authorization']
        if (fieldNames !== undefined) names.push('x-internal-thing')
        for (const name of names) t.ok(headerAttributes.includes(`"http.request.header.${name}"`), `${name} captured (redacted)`)
        t.ok(headerAttributes.includes('"http.response.header.set-cookie"'), 'set-cookie captured')
        t.match(everything, /"http\.request\.header\.authorization","value":\{"arrayValue":\{"values":\[\{"stringValue":"\[REDACTED\]"\}\]\}\}/, 'as [REDACTED]')
      }
      // The statements are there, with their literals replaced.
      t.match(everything, /ALTER USER apm_secret_test PASSWORD \?/)
      t.match(everything, /SELECT \? AS x, \? AS card/)
    })
  }
})
