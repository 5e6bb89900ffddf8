// Tests for lib/sanitize.ts: SQL obfuscation and summaries, URL and header redaction, and their cost on pathological input.
import t from 'tap'
import { performance } from 'node:perf_hooks'
import {
  obfuscateSql, sqlSummary, sqlOperation, describeSql, redactUrl, redactHeaders, isSensitiveName,
  DEFAULT_SENSITIVE_QUERY_PARAMS, DEFAULT_SENSITIVE_HEADER_PATTERNS
} from '../lib/sanitize'

/**
 * Best of a few runs after a warm-up, in ms, so JIT warm-up or one GC pause does not fail a timing
 * test. Steady state is well under 5 ms for every input here; the bounds leave room for loaded CI
 * machines while still catching quadratic behaviour (which costs seconds at 100 KB).
 */
function bestOf (runs: number, fn: () => void): number {
  fn()
  let best = Infinity
  for (let k = 0; k < runs; k++) {
    const start = performance.now()
    fn()
    best = Math.min(best, performance.now() - start)
  }
  return best
}

t.test('obfuscateSql', async (t) => {
  t.test('replaces single-quoted strings, including doubled quote escapes', async (t) => {
    t.equal(obfuscateSql("SELECT * FROM users WHERE name = 'O''Brien' AND x = 'a'"), 'SELECT * FROM users WHERE name = ? AND x = ?')
    t.equal(obfuscateSql("SELECT ''"), 'SELECT ?')
  })

  t.test('replaces E-strings honouring backslash escapes, without leaking what follows the escaped quote', async (t) => {
    t.equal(obfuscateSql("SELECT E'it\\'s secret' FROM t"), 'SELECT ? FROM t')
    t.equal(obfuscateSql("SELECT e'\\\\' , 'x'"), 'SELECT ? , ?')
  })

  t.test('replaces hex, bit, national and unicode strings together with their prefix', async (t) => {
    t.equal(obfuscateSql("SELECT X'1F', B'0101', N'abc', U&'d\\0061t' FROM t"), 'SELECT ?, ?, ?, ? FROM t')
  })

  t.test('replaces dollar-quoted strings, with and without a tag, keeping $n placeholders', async (t) => {
    t.equal(obfuscateSql('SELECT $$sec$ret$$, $tag$a $$ b$tag$ FROM t WHERE id = $1 AND y = $22'), 'SELECT ?, ? FROM t WHERE id = $1 AND y = $22')
    t.equal(obfuscateSql('DO $body$ BEGIN PERFORM 1; END $body$'), 'DO ?')
  })

  t.test('replaces numbers but not digits inside identifiers or quoted identifiers', async (t) => {
    t.equal(obfuscateSql('SELECT t1.c2, "ident1" FROM t1 WHERE a = 42 AND b = -3.5e-2 AND c = .5 AND d = 0x1F AND e = 1_000'),
      'SELECT t1.c2, "ident1" FROM t1 WHERE a = ? AND b = -? AND c = ? AND d = ? AND e = ?')
    t.equal(obfuscateSql('SELECT a$1 FROM x'), 'SELECT a$1 FROM x')
    t.equal(obfuscateSql('SELECT "a""1" FROM x LIMIT 10'), 'SELECT "a""1" FROM x LIMIT ?')
  })

  t.test('removes the secret from ALTER USER … PASSWORD', async (t) => {
    const out = obfuscateSql("ALTER USER bob WITH PASSWORD 'hunter2'")
    t.equal(out, 'ALTER USER bob WITH PASSWORD ?')
    t.notMatch(out, /hunter2/)
    t.equal(obfuscateSql("CREATE ROLE r LOGIN PASSWORD E'p\\'w'"), 'CREATE ROLE r LOGIN PASSWORD ?')
  })

  t.test('obfuscates an unterminated literal up to the end instead of leaking it', async (t) => {
    t.equal(obfuscateSql("SELECT 'secret and more"), 'SELECT ?')
    t.equal(obfuscateSql("SELECT E'secret\\' still secret"), 'SELECT ?')
    t.equal(obfuscateSql('SELECT $x$ secret'), 'SELECT ?')
    t.equal(obfuscateSql('SELECT $$ secret'), 'SELECT ?')
  })

  t.test('drops comments, which may hold values, keeping tokens apart', async (t) => {
    t.equal(obfuscateSql("SELECT 1 -- password 'x' 42\nFROM t"), 'SELECT ? \nFROM t')
    t.equal(obfuscateSql('SELECT/* secret 42 /* nested */ still */1'), 'SELECT ?')
    t.equal(obfuscateSql('SELECT a /* unterminated secret'), 'SELECT a ')
    t.equal(obfuscateSql('SELECT 4 - 2 / 1'), 'SELECT ? - ? / ?')
  })

  t.test('cuts the input at maxLength, never returning more, and still obfuscates a literal cut in half', async (t) => {
    const sql = "SELECT '" + 'x'.repeat(100) + "' FROM t"
    t.equal(obfuscateSql(sql, 20), 'SELECT ?')
    const long = 'SELECT ' + 'a, '.repeat(10000) + 'b FROM t'
    t.equal(obfuscateSql(long).length, 10000)
    t.ok(obfuscateSql('SELECT 1 FROM t', 0).length === 0)
    // A surrogate pair at the cut is not split in half.
    t.equal(obfuscateSql('SELECT a😀', 9), 'SELECT a')
  })

  t.test('returns the same string when there is nothing to obfuscate, and "" for a non-string', async (t) => {
    const sql = 'SELECT a FROM b WHERE c = $1'
    t.equal(obfuscateSql(sql), sql)
    t.equal(obfuscateSql(null as any), '')
    t.equal(obfuscateSql({} as any), '')
  })

  t.test('runs in a few ms on 100 KB pathological inputs', async (t) => {
    const inputs = [
      "'" + "''".repeat(50000), // one long unterminated string of escapes
      "E'" + '\\'.repeat(100000),
      '$a$'.repeat(33000), // many dollar-quote openers
      '$'.repeat(100000),
      '/*'.repeat(50000), // deeply nested comment, unterminated
      '1.'.repeat(50000),
      '"'.repeat(100000),
      'a1'.repeat(50000),
      "SELECT '1', 2, $$3$$ FROM t; ".repeat(3500)
    ]
    for (const input of inputs) {
      const ms = bestOf(5, () => obfuscateSql(input, 200000))
      t.ok(ms < 25, `${JSON.stringify(input.slice(0, 12))}… took ${ms.toFixed(2)} ms`)
    }
  })
})

t.test('sqlSummary and sqlOperation', async (t) => {
  t.test('name the operation and its table for the basic statements', async (t) => {
    t.equal(sqlSummary('SELECT id, name FROM users WHERE id = $1'), 'SELECT users')
    t.equal(sqlSummary('insert into orders (a) values (1)'), 'INSERT orders')
    t.equal(sqlSummary('UPDATE ONLY x SET a = 1'), 'UPDATE x')
    t.equal(sqlSummary('DELETE FROM ONLY x WHERE a = 1'), 'DELETE x')
    t.equal(sqlSummary('MERGE INTO target t USING src s ON t.id = s.id WHEN MATCHED THEN DELETE'), 'MERGE target')
    t.equal(sqlSummary('TRUNCATE TABLE logs'), 'TRUNCATE logs')
  })

  t.test('handle schema-qualified and quoted names, folding unquoted ones to lower case', async (t) => {
    t.equal(sqlSummary('SELECT * FROM public.Users'), 'SELECT public.users')
    t.equal(sqlSummary('SELECT * FROM "public"."Users"'), 'SELECT public.Users')
    t.equal(sqlSummary('SELECT * FROM "My Table"'), 'SELECT "My Table"')
    t.equal(sqlSummary('INSERT INTO "a""b" VALUES (1)'), 'INSERT "a""b"')
  })

  t.test('skip leading whitespace and comments, and see through WITH to the main statement', async (t) => {
    t.equal(sqlSummary('  \n/* traceparent=00-abc */ -- hi\n  select 1 from dual'), 'SELECT dual')
    t.equal(sqlSummary('WITH recent AS (SELECT * FROM orders WHERE ts > now()), b AS (SELECT 1) SELECT * FROM recent JOIN b ON true'), 'SELECT recent')
    t.equal(sqlSummary('WITH moved AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM moved'), 'INSERT b')
    t.equal(sqlOperation('WITH x AS (SELECT 1) UPDATE t SET a = 1'), 'UPDATE')
  })

  t.test('fall back to the bare operation, then to "postgresql"', async (t) => {
    t.equal(sqlSummary('SELECT 1'), 'SELECT')
    t.equal(sqlSummary('SELECT * FROM (SELECT 1) s'), 'SELECT')
    t.equal(sqlSummary('SELECT now(), (SELECT max(a) FROM t) FROM users'), 'SELECT users')
    t.equal(sqlSummary('BEGIN'), 'BEGIN')
    t.equal(sqlSummary('create table t (a int)'), 'CREATE')
    t.equal(sqlSummary('(SELECT a FROM t1) UNION (SELECT a FROM t2)'), 'SELECT t1')
    t.equal(sqlSummary('frobnicate the database'), 'postgresql')
    t.equal(sqlSummary(''), 'postgresql')
    t.equal(sqlSummary('   -- only a comment'), 'postgresql')
    t.equal(sqlSummary('foo', 'mysql'), 'mysql')
    t.equal(sqlSummary(null as any), 'postgresql')
    t.equal(sqlOperation('frobnicate'), null)
    t.equal(sqlOperation('  select 1'), 'SELECT')
  })

  t.test('never put literals or unbounded text into the summary', async (t) => {
    t.equal(sqlSummary("SELECT 'secret' FROM 'x'"), 'SELECT')
    t.equal(sqlSummary('SELECT * FROM ' + 'a'.repeat(5000)), 'SELECT')
    t.equal(sqlSummary(`${'x'.repeat(100)} FROM t`), 'postgresql')
  })

  t.test('run in a few ms on 100 KB pathological inputs', async (t) => {
    for (const input of ['WITH ' + '('.repeat(100000), 'SELECT ' + '"'.repeat(100000), 'WITH a AS ' + '/*'.repeat(50000), 'SELECT ' + 'a.'.repeat(50000)]) {
      const ms = bestOf(5, () => sqlSummary(input))
      t.ok(ms < 25, `${JSON.stringify(input.slice(0, 12))}… took ${ms.toFixed(2)} ms`)
    }
  })
})

t.test('describeSql', async (t) => {
  t.test('gives what sqlSummary, sqlOperation and obfuscateSql give, for every kind of statement', async (t) => {
    const statements = [
      'SELECT $1::int AS n', "SELECT * FROM users WHERE name = 'bob' AND id = 42", 'INSERT INTO public.orders VALUES (1)',
      'WITH a AS (SELECT 1) UPDATE t SET x = 2', 'not sql at all', '', "SELECT '" + 'x'.repeat(12_000), 'BEGIN'
    ]
    for (const sql of statements) {
      for (let k = 0; k < 2; k++) { // computed, then from the cache
        t.same(describeSql(sql), { summary: sqlSummary(sql), operation: sqlOperation(sql), text: obfuscateSql(sql) }, sql.slice(0, 40))
      }
    }
    t.same(describeSql(42 as unknown as string), { summary: 'postgresql', operation: null, text: '' })
  })

  t.test('describes a repeated statement once, and keeps at most a bounded number of them', async (t) => {
    const first = describeSql('SELECT id FROM cached_once')
    t.equal(describeSql('SELECT id FROM cached_once'), first)
    for (let i = 0; i < 1000; i++) t.equal(describeSql(`SELECT ${i} FROM t${i}`).summary, `SELECT t${i}`)
    const again = describeSql('SELECT id FROM cached_once')
    t.not(again, first, 'evicted after many other statements')
    t.same(again, first)
  })
})

t.test('redactUrl', async (t) => {
  t.test('replaces credentials in the authority with REDACTED:REDACTED', async (t) => {
    t.equal(redactUrl('https://user:pw@example.com/a?b=1'), 'https://REDACTED:REDACTED@example.com/a?b=1')
    t.equal(redactUrl('postgres://admin:s3cr%40t@db:5432/app'), 'postgres://REDACTED:REDACTED@db:5432/app')
    t.equal(redactUrl('http://token@host/'), 'http://REDACTED:REDACTED@host/')
    t.equal(redactUrl('//u:p@host/x'), '//REDACTED:REDACTED@host/x')
  })

  t.test('leaves an @ outside the authority alone', async (t) => {
    t.equal(redactUrl('https://example.com/users/@me'), 'https://example.com/users/@me')
    t.equal(redactUrl('https://example.com/?email=a@b.c'), 'https://example.com/?email=a@b.c')
    t.equal(redactUrl('/path@x?q=1'), '/path@x?q=1')
  })

  t.test('replaces the values of sensitive query parameters, case-insensitively, keeping the others', async (t) => {
    t.equal(redactUrl('https://h/p?token=abc&page=2&PASSWORD=x&sig=1&X-Amz-Signature=ff&x-goog-signature=1&AWSAccessKeyId=AK'),
      'https://h/p?token=REDACTED&page=2&PASSWORD=REDACTED&sig=REDACTED&X-Amz-Signature=REDACTED&x-goog-signature=REDACTED&AWSAccessKeyId=REDACTED')
    t.equal(redactUrl('/cb?code=123&state=s&api_key=k&apikey=k&access_token=t&secret=s&key=k&auth=a&session=s&jwt=j&signature=s'),
      '/cb?code=REDACTED&state=s&api_key=REDACTED&apikey=REDACTED&access_token=REDACTED&secret=REDACTED&key=REDACTED&auth=REDACTED&session=REDACTED&jwt=REDACTED&signature=REDACTED')
  })

  t.test('matches percent-encoded names and keeps empty values and fragments sensible', async (t) => {
    t.equal(redactUrl('/p?%74oken=abc'), '/p?%74oken=REDACTED')
    t.equal(redactUrl('/p?token=&a'), '/p?token=&a')
    t.equal(redactUrl('/p?token=abc#frag'), '/p?token=REDACTED#frag')
    t.equal(redactUrl('https://h/cb#access_token=abc&state=1'), 'https://h/cb#access_token=REDACTED&state=1')
  })

  t.test('uses a configured list instead of the defaults', async (t) => {
    t.equal(redactUrl('/p?token=abc&tenant=acme', ['tenant']), '/p?token=abc&tenant=REDACTED')
    t.equal(redactUrl('/p?Tenant=acme', new Set(['tenant'])), '/p?Tenant=REDACTED')
  })

  t.test('never throws and returns plain URLs unchanged', async (t) => {
    const garbage = ['', '?', '#', '@', '??==&&', 'http://@', 'http://a:b@', '://:@?=#=', '%%%?%zz=1', '?%E0%A4%A=1', '\u0000@\uffff?token=1']
    for (const g of garbage) t.doesNotThrow(() => redactUrl(g), JSON.stringify(g))
    t.equal(redactUrl('http://a:b@'), 'http://REDACTED:REDACTED@')
    t.equal(redactUrl('\u0000@\uffff?token=1'), '\u0000@\uffff?token=REDACTED')
    t.equal(redactUrl(undefined as any), '')
    const plain = 'https://example.com/a/b/c'
    t.equal(redactUrl(plain), plain)
  })

  t.test('the defaults cover the documented names', async (t) => {
    for (const name of ['token', 'password', 'sig', 'signature', 'x-amz-signature', 'x-goog-signature', 'awsaccesskeyid', 'api_key', 'apikey', 'access_token', 'secret', 'key', 'auth', 'session', 'jwt', 'code']) {
      t.ok(DEFAULT_SENSITIVE_QUERY_PARAMS.includes(name), name)
    }
  })

  t.test('runs in a few ms on 100 KB pathological inputs', async (t) => {
    const inputs = ['http://' + '@'.repeat(100000), '/?' + '&'.repeat(100000), '/?' + 'token=a&'.repeat(12500), '/?' + '='.repeat(100000), 'http://' + 'a:'.repeat(50000) + '@h']
    for (const input of inputs) {
      const ms = bestOf(5, () => redactUrl(input))
      t.ok(ms < 25, `${JSON.stringify(input.slice(0, 12))}… took ${ms.toFixed(2)} ms`)
    }
  })
})

t.test('redactHeaders', async (t) => {
  t.test('redacts sensitive names by substring, case-insensitively, and copies the rest', async (t) => {
    const headers = {
      Authorization: 'Bearer abc',
      cookie: 'sid=1',
      'set-cookie': ['a=1', 'b=2'],
      'x-api-key': 'k',
      'X-CSRF-Token': 't',
      'x-session-id': 's',
      'content-type': 'application/json',
      'content-length': 12,
      accept: ['a', 'b'],
      'user-agent': undefined
    }
    const out = redactHeaders(headers)
    t.same(out, {
      Authorization: '[REDACTED]',
      cookie: '[REDACTED]',
      'set-cookie': '[REDACTED]',
      'x-api-key': '[REDACTED]',
      'X-CSRF-Token': '[REDACTED]',
      'x-session-id': '[REDACTED]',
      'content-type': 'application/json',
      'content-length': 12,
      accept: ['a', 'b'],
      'user-agent': undefined
    })
    t.not(out, headers, 'a new object')
    t.not(out.accept, headers.accept, 'arrays are copied')
    t.equal(headers.Authorization, 'Bearer abc', 'the input is not modified')
  })

  t.test('the default patterns cover the documented names', async (t) => {
    for (const name of ['password', 'passwd', 'pwd', 'secret', 'token', 'key', 'auth', 'session', 'cookie', 'credit', 'card', 'csrf', 'jwt', 'sid', 'authorization', 'set-cookie', 'x-api-key']) {
      t.ok(DEFAULT_SENSITIVE_HEADER_PATTERNS.includes(name), name)
      t.ok(isSensitiveName('X-' + name.toUpperCase() + '-Value'), name)
    }
    for (const name of ['content-type', 'accept', 'host', 'user-agent', 'x-request-id', 'traceparent', 'cache-control']) {
      t.notOk(isSensitiveName(name), name)
    }
  })

  t.test('supports configured patterns with * globs', async (t) => {
    const patterns = ['x-tenant-*', '*-internal', 'a*b*c']
    t.same(redactHeaders({ 'x-tenant-id': '1', 'X-Foo-Internal': '2', abxc: '3', ac: '4', authorization: '5' }, patterns),
      { 'x-tenant-id': '[REDACTED]', 'X-Foo-Internal': '[REDACTED]', abxc: '[REDACTED]', ac: '4', authorization: '5' })
    t.notOk(isSensitiveName('abc-x', ['a*c']))
    t.ok(isSensitiveName('ac', ['a*c']))
  })

  t.test('never throws on odd input: null, non-objects, throwing getters, revoked proxies', async (t) => {
    t.same(redactHeaders(null), {})
    t.same(redactHeaders(undefined), {})
    t.same(redactHeaders('x' as any), {})
    const hostile: any = { ok: 'yes' }
    Object.defineProperty(hostile, 'boom', { enumerable: true, get () { throw new Error('getter') } })
    t.same(redactHeaders(hostile), { ok: 'yes', boom: '[REDACTED]' })
    const { proxy, revoke } = Proxy.revocable({}, {})
    revoke()
    t.same(redactHeaders(proxy as any), {})
  })

  t.test('stays fast with many distinct header names (bounded verdict cache)', async (t) => {
    const headers: Record<string, string> = {}
    for (let k = 0; k < 5000; k++) headers['x-custom-' + k] = 'v'
    const ms = bestOf(5, () => redactHeaders(headers))
    t.ok(ms < 50, `took ${ms.toFixed(2)} ms`)
  })
})

t.test('planted secrets never survive obfuscateSql, whatever literal form or cut (seeded fuzz)', async (t) => {
  let seed = 12345
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }
  const alphabet = ["'", '"', '\\', '$', '-', '/', '*', ' ', '\n', 'a', '1', ';', '(', ')', 'é', '😀']
  const noise = (len: number): string => Array.from({ length: len }, () => alphabet[rand(alphabet.length)]).join('')
  const wrap = [
    (s: string) => `'${s.replace(/'/g, "''")}'`,
    (s: string) => `E'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`,
    (s: string) => `$$${s.replace(/\$\$/g, '$ $')}$$`,
    (s: string) => `$q$${s.replace(/\$q\$/g, '')}$q$`,
    (s: string) => `U&'${s.replace(/'/g, "''")}'`
  ]
  const prefixes = ['SELECT ', 'INSERT INTO t VALUES (', 'ALTER USER bob PASSWORD ', 'UPDATE t SET a = ', 'SELECT * FROM t WHERE x = 1 AND y = ']
  let checked = 0
  for (let k = 0; k < 2000; k++) {
    const secret = noise(rand(8)) + 'PLANTED' + noise(rand(8))
    const literal = wrap[rand(wrap.length)](secret)
    const sql = prefixes[rand(prefixes.length)] + literal + (rand(2) === 0 ? ' AND z = 2' : '')
    const out = obfuscateSql(sql)
    if (out.includes('PLANT')) {
      t.fail(`leaked: ${JSON.stringify(sql)} -> ${JSON.stringify(out)}`)
      return
    }
    // Cut anywhere: a literal cut in half is still replaced to the end.
    const cut = obfuscateSql(sql, 1 + rand(sql.length))
    if (cut.includes('PLANT')) {
      t.fail(`leaked after cut: ${JSON.stringify(sql)} -> ${JSON.stringify(cut)}`)
      return
    }
    checked++
  }
  t.equal(checked, 2000)
})

t.test('random garbage never makes the sanitizers throw (seeded fuzz)', async (t) => {
  let seed = 777
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }
  const chars = "'\"\\$-/*#?&=@:%;()[]{} \n\tabcXYZ019éß\u0000\ud800😀"
  for (let k = 0; k < 3000; k++) {
    const s = Array.from({ length: rand(60) }, () => chars[rand(chars.length)]).join('')
    try {
      obfuscateSql(s, rand(80))
      sqlSummary(s)
      sqlOperation(s)
      redactUrl(s)
      redactUrl('https://' + s)
      isSensitiveName(s)
      redactHeaders({ [s]: s })
    } catch (err) {
      t.fail(`threw on ${JSON.stringify(s)}: ${String(err)}`)
      return
    }
  }
  t.pass('3000 random inputs')
})
