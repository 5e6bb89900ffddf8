// Data protection on hot paths: SQL literal obfuscation and summaries, URL credential/query redaction, header redaction — single-pass scanners, never throw.

/** Query parameter names whose values `redactUrl` replaces with `REDACTED` (exact, case-insensitive). */
export const DEFAULT_SENSITIVE_QUERY_PARAMS: readonly string[] = Object.freeze([
  'token', 'access_token', 'refresh_token', 'id_token', 'password', 'passwd', 'pwd', 'secret', 'client_secret',
  'sig', 'signature', 'x-amz-signature', 'x-amz-credential', 'x-amz-security-token', 'x-goog-signature',
  'x-goog-credential', 'awsaccesskeyid', 'api_key', 'apikey', 'api-key', 'key', 'auth', 'session', 'jwt', 'code'
])

/**
 * Header (and field) name patterns whose values `redactHeaders` replaces with `[REDACTED]`.
 * Case-insensitive; a pattern without `*` matches anywhere in the name (substring), a pattern
 * with `*` is a glob over the whole name.
 */
export const DEFAULT_SENSITIVE_HEADER_PATTERNS: readonly string[] = Object.freeze([
  'password', 'passwd', 'pwd', 'secret', 'token', 'key', 'auth', 'session', 'cookie', 'credit', 'card',
  'csrf', 'jwt', 'sid', 'authorization', 'set-cookie', 'x-api-key'
])

export const REDACTED_HEADER_VALUE = '[REDACTED]'
export const REDACTED_QUERY_VALUE = 'REDACTED'
export const REDACTED_CREDENTIALS = 'REDACTED:REDACTED'

// ---------------------------------------------------------------------------------------------
// SQL

const C_SQUOTE = 39 // '
const C_DQUOTE = 34 // "
const C_DOLLAR = 36 // $
const C_DASH = 45 // -
const C_SLASH = 47 // /
const C_STAR = 42 // *
const C_BACKSLASH = 92 // \
const C_DOT = 46 // .
const C_UNDERSCORE = 95

function isDigit (c: number): boolean {
  return c >= 48 && c <= 57
}

function isIdentStart (c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === C_UNDERSCORE || c >= 128
}

function isIdentPart (c: number): boolean {
  return isIdentStart(c) || isDigit(c) || c === C_DOLLAR
}

function isSpace (c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13)
}

function isHexDigit (c: number): boolean {
  return isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70)
}

/** Index just past a '…' literal starting at `quote` (which holds the opening quote); `s.length` when unterminated. */
function endOfQuoted (s: string, quote: number, backslashEscapes: boolean): number {
  const n = s.length
  let i = quote + 1
  while (i < n) {
    const c = s.charCodeAt(i)
    if (c === C_BACKSLASH && backslashEscapes) {
      i += 2
      continue
    }
    if (c === C_SQUOTE) {
      if (s.charCodeAt(i + 1) === C_SQUOTE) {
        i += 2
        continue
      }
      return i + 1
    }
    i++
  }
  return n
}

/** If a dollar quote ($$ or $tag$) opens at `i`, the index just past its opening delimiter; otherwise -1. */
function dollarTagEnd (s: string, i: number): number {
  const n = s.length
  let j = i + 1
  if (j < n && s.charCodeAt(j) === C_DOLLAR) return j + 1
  if (j >= n || !isIdentStart(s.charCodeAt(j))) return -1
  j++
  while (j < n) {
    const c = s.charCodeAt(j)
    if (c === C_DOLLAR) return j + 1
    if (!(isIdentStart(c) || isDigit(c))) return -1
    j++
  }
  return -1
}

/** Index just past a number literal starting at `i` (digit, or '.' followed by a digit). */
function endOfNumber (s: string, i: number): number {
  const n = s.length
  // 0x1F, 0o17, 0b101 (PostgreSQL 16)
  if (s.charCodeAt(i) === 48 && i + 1 < n) {
    const p = s.charCodeAt(i + 1) | 0x20
    if (p === 120 || p === 111 || p === 98) {
      let j = i + 2
      while (j < n && (isHexDigit(s.charCodeAt(j)) || s.charCodeAt(j) === C_UNDERSCORE)) j++
      if (j > i + 2) return j
    }
  }
  let j = i
  while (j < n) {
    const c = s.charCodeAt(j)
    if (isDigit(c) || c === C_UNDERSCORE || c === C_DOT) {
      j++
    } else if ((c | 0x20) === 101) { // e / E exponent
      const d = s.charCodeAt(j + 1)
      if (isDigit(d)) {
        j += 2
      } else if ((d === 43 || d === C_DASH) && isDigit(s.charCodeAt(j + 2))) {
        j += 3
      } else {
        break
      }
    } else {
      break
    }
  }
  return j
}

/** Index just past a comment starting at `i`, or -1 when no comment starts there. */
function endOfComment (s: string, i: number): number {
  const c = s.charCodeAt(i)
  const n = s.length
  if (c === C_DASH && s.charCodeAt(i + 1) === C_DASH) {
    const nl = s.indexOf('\n', i + 2)
    return nl === -1 ? n : nl
  }
  if (c === C_SLASH && s.charCodeAt(i + 1) === C_STAR) {
    // PostgreSQL block comments nest.
    let depth = 1
    let j = i + 2
    while (j < n) {
      const d = s.charCodeAt(j)
      if (d === C_STAR && s.charCodeAt(j + 1) === C_SLASH) {
        depth--
        j += 2
        if (depth === 0) return j
      } else if (d === C_SLASH && s.charCodeAt(j + 1) === C_STAR) {
        depth++
        j += 2
      } else {
        j++
      }
    }
    return n
  }
  return -1
}

function cutAt (s: string, max: number): string {
  if (s.length <= max) return s
  let end = max
  const c = s.charCodeAt(end - 1)
  if (c >= 0xd800 && c <= 0xdbff) end-- // do not split a surrogate pair
  return s.slice(0, end)
}

/**
 * Replaces every literal in `sql` with `?` (PostgreSQL lexical rules): '…' strings ('' escapes),
 * E'…' strings (backslash escapes too), X'…'/B'…'/U&'…'/N'…', dollar-quoted $$…$$ / $tag$…$tag$,
 * and numbers not part of an identifier. `$1` placeholders and "quoted identifiers" are kept;
 * comments are removed. An unterminated literal is replaced up to the end. The input is cut to
 * `maxLength` characters first, so the result is never longer than `maxLength`.
 */
export function obfuscateSql (sql: string, maxLength = 10000): string {
  if (typeof sql !== 'string') return ''
  const s = cutAt(sql, maxLength > 0 ? maxLength : 0)
  const n = s.length
  let out = ''
  let last = 0 // start of the not yet copied input
  let i = 0
  while (i < n) {
    const c = s.charCodeAt(i)
    if (c === C_SQUOTE) {
      const end = endOfQuoted(s, i, false)
      out += s.slice(last, i) + '?'
      last = i = end
    } else if (isIdentStart(c)) {
      // A string prefix (E'', X'', B'', N'', U&'') makes the prefix part of the literal.
      const lc = c | 0x20
      const next = s.charCodeAt(i + 1)
      if (next === C_SQUOTE && (lc === 101 || lc === 120 || lc === 98 || lc === 110)) {
        const end = endOfQuoted(s, i + 1, lc === 101)
        out += s.slice(last, i) + '?'
        last = i = end
      } else if (lc === 117 && next === 38 && s.charCodeAt(i + 2) === C_SQUOTE) { // U&'
        const end = endOfQuoted(s, i + 2, false)
        out += s.slice(last, i) + '?'
        last = i = end
      } else {
        i++
        while (i < n && isIdentPart(s.charCodeAt(i))) i++
      }
    } else if (isDigit(c) || (c === C_DOT && isDigit(s.charCodeAt(i + 1)))) {
      const end = endOfNumber(s, i)
      out += s.slice(last, i) + '?'
      last = i = end
    } else if (c === C_DQUOTE) {
      // Quoted identifier: copied as is, digits inside it are not numbers.
      let j = i + 1
      while (j < n) {
        if (s.charCodeAt(j) === C_DQUOTE) {
          if (s.charCodeAt(j + 1) === C_DQUOTE) {
            j += 2
            continue
          }
          j++
          break
        }
        j++
      }
      i = j
    } else if (c === C_DOLLAR) {
      if (isDigit(s.charCodeAt(i + 1))) {
        // $1 placeholder: keep it whole so its digits are not read as a number.
        i++
        while (i < n && isDigit(s.charCodeAt(i))) i++
        continue
      }
      const open = dollarTagEnd(s, i)
      if (open === -1) {
        i++
        continue
      }
      const close = s.indexOf(s.slice(i, open), open)
      const end = close === -1 ? n : close + (open - i)
      out += s.slice(last, i) + '?'
      last = i = end
    } else if (c === C_DASH || c === C_SLASH) {
      const end = endOfComment(s, i)
      if (end === -1) {
        i++
        continue
      }
      // Drop the comment; keep one space so the tokens around it stay apart.
      const before = i > 0 ? s.charCodeAt(i - 1) : 32
      const after = end < n ? s.charCodeAt(end) : 32
      out += s.slice(last, i) + (isSpace(before) || isSpace(after) ? '' : ' ')
      last = i = end
    } else {
      i++
    }
  }
  return last === 0 ? s : out + s.slice(last)
}

const SQL_OPERATIONS = new Set([
  'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'VALUES', 'TABLE', 'CREATE', 'ALTER', 'DROP', 'TRUNCATE',
  'BEGIN', 'START', 'COMMIT', 'ROLLBACK', 'SAVEPOINT', 'RELEASE', 'ABORT', 'END', 'SET', 'SHOW', 'RESET',
  'EXPLAIN', 'ANALYZE', 'VACUUM', 'COPY', 'GRANT', 'REVOKE', 'LOCK', 'LISTEN', 'NOTIFY', 'UNLISTEN',
  'PREPARE', 'EXECUTE', 'DEALLOCATE', 'DECLARE', 'FETCH', 'CLOSE', 'MOVE', 'CALL', 'DO', 'COMMENT', 'REINDEX',
  'CLUSTER', 'REFRESH', 'DISCARD', 'CHECKPOINT', 'LOAD', 'IMPORT', 'SECURITY', 'REASSIGN', 'WITH', 'USE',
  'REPLACE', 'UPSERT', 'DESCRIBE', 'DESC'
])

const MAX_SUMMARY_SCAN = 10000
const MAX_NAME_LENGTH = 128

/** A tiny SQL tokenizer for summaries: words, quoted identifiers, punctuation; skips literals and comments. */
class SqlTokens {
  s: string
  i = 0
  depth = 0
  start = 0
  end = 0
  quoted = false

  constructor (s: string) {
    this.s = s
  }

  /** Advances to the next token; returns its first char code, or -1 at the end. */
  next (): number {
    const s = this.s
    const n = s.length
    let i = this.i
    while (i < n) {
      const c = s.charCodeAt(i)
      if (isSpace(c)) {
        i++
        continue
      }
      if (c === C_DASH || c === C_SLASH) {
        const end = endOfComment(s, i)
        if (end !== -1) {
          i = end
          continue
        }
      }
      this.quoted = false
      if (c === C_SQUOTE) {
        this.start = i
        this.i = this.end = endOfQuoted(s, i, false)
        return c
      }
      if (c === C_DQUOTE) {
        let j = i + 1
        while (j < n) {
          if (s.charCodeAt(j) === C_DQUOTE) {
            if (s.charCodeAt(j + 1) === C_DQUOTE) {
              j += 2
              continue
            }
            break
          }
          j++
        }
        this.quoted = true
        this.start = i + 1
        this.end = j
        this.i = j + 1
        return c
      }
      if (isIdentStart(c)) {
        let j = i + 1
        while (j < n && isIdentPart(s.charCodeAt(j))) j++
        this.start = i
        this.i = this.end = j
        return c
      }
      if (c === C_DOLLAR) {
        const open = dollarTagEnd(s, i)
        if (open !== -1) {
          const close = s.indexOf(s.slice(i, open), open)
          this.start = i
          this.i = this.end = close === -1 ? n : close + (open - i)
          return c
        }
      }
      if (c === 40) this.depth++
      else if (c === 41) this.depth--
      this.start = i
      this.i = this.end = i + 1
      return c
    }
    this.i = n
    return -1
  }

  word (): string {
    return this.s.slice(this.start, this.end)
  }

  /** The current token upper-cased when it is a plain word, '' otherwise. */
  keyword (): string {
    if (this.quoted || !isIdentStart(this.s.charCodeAt(this.start))) return ''
    const len = this.end - this.start
    return len > 16 ? '' : this.word().toUpperCase()
  }
}

/** Reads a possibly schema-qualified name at the current token; '' when there is none. */
function readName (t: SqlTokens, first: number): string {
  let c = first
  let name = ''
  for (let parts = 0; parts < 3; parts++) {
    if (c === C_DQUOTE) {
      const raw = t.word()
      name += /^[A-Za-z_][A-Za-z0-9_$]*$/.test(raw) ? raw : '"' + raw + '"'
    } else if (isIdentStart(c)) {
      name += t.word().toLowerCase()
    } else {
      return ''
    }
    if (name.length > MAX_NAME_LENGTH) return ''
    // A following '.' continues the qualified name.
    const save = t.i
    const d = t.next()
    if (d === C_DOT) {
      c = t.next()
      name += '.'
      continue
    }
    t.i = save
    break
  }
  return name
}

const SKIP_AFTER_OPERATION = new Set(['INTO', 'FROM', 'ONLY', 'IGNORE', 'LOW_PRIORITY', 'QUICK', 'DELAYED', 'HIGH_PRIORITY'])

interface SqlShape { operation: string | null, target: string }

function analyze (sql: unknown): SqlShape {
  if (typeof sql !== 'string') return { operation: null, target: '' }
  const t = new SqlTokens(sql.length > MAX_SUMMARY_SCAN ? sql.slice(0, MAX_SUMMARY_SCAN) : sql)
  let c = t.next()
  while (c === 40) c = t.next() // (SELECT …) UNION …
  let op = t.keyword()
  if (!SQL_OPERATIONS.has(op)) return { operation: null, target: '' }
  const baseDepth = t.depth
  if (op === 'WITH') {
    // Skip the CTEs: the main statement is the first DML keyword back at the WITH's depth.
    op = ''
    while ((c = t.next()) !== -1) {
      if (t.depth !== baseDepth || c === 40 || c === 41) continue
      const k = t.keyword()
      if (k === 'SELECT' || k === 'INSERT' || k === 'UPDATE' || k === 'DELETE' || k === 'MERGE') {
        op = k
        break
      }
    }
    if (op === '') return { operation: 'WITH', target: '' }
  }
  if (op === 'SELECT') {
    // The first FROM at the statement's own depth; a sub-select there yields no name.
    while ((c = t.next()) !== -1) {
      if (t.depth < baseDepth) break
      if (t.depth !== baseDepth || t.quoted) continue
      const k = t.keyword()
      if (k === 'FROM') {
        c = t.next()
        if (c !== -1 && t.keyword() === 'ONLY') c = t.next()
        return { operation: op, target: c === -1 ? '' : readName(t, c) }
      }
      if (k === 'UNION' || k === 'INTERSECT' || k === 'EXCEPT') break
    }
    return { operation: op, target: '' }
  }
  if (op === 'INSERT' || op === 'UPDATE' || op === 'DELETE' || op === 'MERGE' || op === 'REPLACE' ||
      op === 'TRUNCATE' || op === 'COPY' || op === 'UPSERT') {
    c = t.next()
    while (c !== -1 && SKIP_AFTER_OPERATION.has(t.keyword())) c = t.next()
    if (op === 'TRUNCATE' && t.keyword() === 'TABLE') c = t.next()
    return { operation: op, target: c === -1 ? '' : readName(t, c) }
  }
  return { operation: op, target: '' }
}

/** The statement's operation (`SELECT`, `INSERT`, … the main statement's for `WITH … SELECT`), or null when unknown. */
export function sqlOperation (sql: string): string | null {
  return analyzeSafely(sql).operation
}

/**
 * A low-cardinality span name for a statement: `SELECT users`, `INSERT public.orders`, the bare
 * operation when there is no single target, or `fallback` (default `postgresql`) when the
 * statement is not recognised.
 */
export function sqlSummary (sql: string, fallback = 'postgresql'): string {
  return summaryOf(analyzeSafely(sql), fallback)
}

function analyzeSafely (sql: string): SqlShape {
  try {
    return analyze(sql)
  } catch {
    return { operation: null, target: '' }
  }
}

function summaryOf ({ operation, target }: SqlShape, fallback: string): string {
  if (operation === null) return fallback
  return target === '' ? operation : operation + ' ' + target
}

/** What a db span records of a statement: its summary (the span name), operation and obfuscated text. */
export interface SqlDescription {
  readonly summary: string
  readonly operation: string | null
  readonly text: string
}

// Apps run the same few statements again and again, so their descriptions are kept by statement text: scanning
// `SELECT $1::int AS n` three times (summary, operation, obfuscation) cost ~4.5 µs per query in the express-pg
// CPU profile, a Map hit costs ~0.1 µs. Bounded: the map is emptied when full (an app that inlines literals
// keeps refilling it at the old cost), and long statements are not kept.
const MAX_DESCRIBED_STATEMENTS = 256
const MAX_DESCRIBED_LENGTH = 2048
const descriptions = new Map<string, SqlDescription>()

/**
 * `sqlSummary`, `sqlOperation` and `obfuscateSql` (with their defaults) of one statement, computed once per
 * distinct statement text. Never throws.
 */
export function describeSql (sql: string): SqlDescription {
  if (typeof sql !== 'string') return { summary: 'postgresql', operation: null, text: '' }
  const known = descriptions.get(sql)
  if (known !== undefined) return known
  const shape = analyzeSafely(sql)
  const description: SqlDescription = { summary: summaryOf(shape, 'postgresql'), operation: shape.operation, text: obfuscateSql(sql) }
  if (sql.length <= MAX_DESCRIBED_LENGTH) {
    if (descriptions.size >= MAX_DESCRIBED_STATEMENTS) descriptions.clear()
    descriptions.set(sql, description)
  }
  return description
}

// ---------------------------------------------------------------------------------------------
// URLs

const setCache = new WeakMap<readonly string[], ReadonlySet<string>>()

function lowerSet (names: readonly string[] | ReadonlySet<string>): ReadonlySet<string> {
  if (!Array.isArray(names)) {
    // A Set passed in is used as is; it is expected to hold lower-case names.
    return names as ReadonlySet<string>
  }
  let set = setCache.get(names)
  if (set === undefined) {
    const s = new Set<string>()
    for (const name of names) if (typeof name === 'string') s.add(name.toLowerCase())
    set = s
    setCache.set(names, set)
  }
  return set
}

function decodeName (raw: string): string {
  let name = raw
  if (name.indexOf('+') !== -1) name = name.replace(/\+/g, ' ')
  if (name.indexOf('%') !== -1) {
    try {
      name = decodeURIComponent(name)
    } catch {}
  }
  return name.toLowerCase()
}

/** Redacts the values of sensitive parameters in `s[from, to)` (a query or fragment); returns the rewritten part. */
function redactParams (s: string, from: number, to: number, names: ReadonlySet<string>): string {
  let out = ''
  let last = from
  let i = from
  let eq = -1
  while (i < to) {
    let amp = s.indexOf('&', i)
    if (amp === -1 || amp > to) amp = to
    // Remember the next '=' so a run of '&' without one is not rescanned each time.
    if (eq !== to && eq < i) {
      eq = s.indexOf('=', i)
      if (eq === -1 || eq > to) eq = to
    }
    if (eq < amp && eq > i) {
      if (names.has(decodeName(s.slice(i, eq))) && amp > eq + 1) {
        out += s.slice(last, eq + 1) + REDACTED_QUERY_VALUE
        last = amp
      }
    }
    i = amp + 1
  }
  return last === from ? s.slice(from, to) : out + s.slice(last, to)
}

/**
 * Removes credentials (`user:pw@` → `REDACTED:REDACTED@`) and the values of sensitive query and
 * fragment parameters (→ `REDACTED`) from a URL or a path with a query. Names are matched exactly,
 * case-insensitively, after percent-decoding. Never throws; a non-string yields ''.
 */
export function redactUrl (url: string, sensitiveNames: readonly string[] | ReadonlySet<string> = DEFAULT_SENSITIVE_QUERY_PARAMS): string {
  if (typeof url !== 'string') return ''
  try {
    const q = url.indexOf('?')
    const h = url.indexOf('#')
    const at = url.indexOf('@')
    if (q === -1 && h === -1 && at === -1) return url // fast path: nothing to redact
    const names = lowerSet(sensitiveNames)
    let out = ''
    let pos = 0
    // Credentials live in the authority: after "//" and before the first '/', '?' or '#'.
    if (at !== -1) {
      const slashes = url.indexOf('//')
      if (slashes !== -1 && (q === -1 || slashes < q) && (h === -1 || slashes < h) && /^([A-Za-z][A-Za-z0-9+.-]*:)?$/.test(url.slice(0, slashes))) {
        const authStart = slashes + 2
        let authEnd = url.length
        for (let i = authStart; i < url.length; i++) {
          const c = url.charCodeAt(i)
          if (c === C_SLASH || c === 63 || c === 35 || c === C_BACKSLASH) {
            authEnd = i
            break
          }
        }
        const cred = url.lastIndexOf('@', authEnd - 1)
        if (cred >= authStart) {
          out = url.slice(0, authStart) + REDACTED_CREDENTIALS
          pos = cred
        }
      }
    }
    if (q !== -1 && (h === -1 || q < h)) {
      const qEnd = h === -1 ? url.length : h
      out += url.slice(pos, q + 1) + redactParams(url, q + 1, qEnd, names)
      pos = qEnd
    }
    if (h !== -1 && url.indexOf('=', h) !== -1) {
      // OAuth implicit flows put tokens in the fragment: #access_token=…
      out += url.slice(pos, h + 1) + redactParams(url, h + 1, url.length, names)
      pos = url.length
    }
    return pos === 0 ? url : out + url.slice(pos)
  } catch {
    return ''
  }
}

// ---------------------------------------------------------------------------------------------
// Headers

type NameMatcher = (lowerName: string) => boolean

interface CompiledPatterns { match: NameMatcher, verdicts: Map<string, boolean> }

const patternCache = new WeakMap<readonly string[], CompiledPatterns>()
const MAX_CACHED_VERDICTS = 1024

function globMatch (name: string, parts: string[]): boolean {
  // parts come from pattern.split('*'): anchored first and last, the middle found left to right.
  const first = parts[0]
  const lastPart = parts[parts.length - 1]
  if (!name.startsWith(first)) return false
  let pos = first.length
  for (let k = 1; k < parts.length - 1; k++) {
    const at = name.indexOf(parts[k], pos)
    if (at === -1) return false
    pos = at + parts[k].length
  }
  return name.length - lastPart.length >= pos && name.endsWith(lastPart)
}

function compile (patterns: readonly string[]): CompiledPatterns {
  let compiled = patternCache.get(patterns)
  if (compiled !== undefined) return compiled
  const substrings: string[] = []
  const globs: string[][] = []
  for (const p of patterns) {
    if (typeof p !== 'string' || p === '') continue
    const lower = p.toLowerCase()
    if (lower.indexOf('*') === -1) substrings.push(lower)
    else globs.push(lower.split('*'))
  }
  const match: NameMatcher = (name) => {
    for (let k = 0; k < substrings.length; k++) if (name.indexOf(substrings[k]) !== -1) return true
    for (let k = 0; k < globs.length; k++) if (globMatch(name, globs[k])) return true
    return false
  }
  compiled = { match, verdicts: new Map() }
  if (Object.isFrozen(patterns) || Array.isArray(patterns)) patternCache.set(patterns, compiled)
  return compiled
}

/** Whether `name` matches one of `patterns` (see DEFAULT_SENSITIVE_HEADER_PATTERNS for the rules). */
export function isSensitiveName (name: string, patterns: readonly string[] = DEFAULT_SENSITIVE_HEADER_PATTERNS): boolean {
  if (typeof name !== 'string') return false
  const compiled = compile(patterns)
  let verdict = compiled.verdicts.get(name)
  if (verdict === undefined) {
    verdict = compiled.match(name.toLowerCase())
    // Header names repeat endlessly; remember verdicts, bounded.
    if (compiled.verdicts.size >= MAX_CACHED_VERDICTS) compiled.verdicts.clear()
    compiled.verdicts.set(name, verdict)
  }
  return verdict
}

export type HeaderValue = string | string[] | number | undefined

/**
 * A new object with the same header names, where values of sensitive names are `[REDACTED]`.
 * Accepts Node's IncomingHttpHeaders / OutgoingHttpHeaders or any plain record; never throws.
 */
export function redactHeaders (
  headers: Record<string, HeaderValue> | NodeJS.Dict<HeaderValue> | null | undefined,
  sensitivePatterns: readonly string[] = DEFAULT_SENSITIVE_HEADER_PATTERNS
): Record<string, HeaderValue> {
  const out: Record<string, HeaderValue> = {}
  if (headers === null || typeof headers !== 'object') return out
  let keys: string[]
  try {
    keys = Object.keys(headers)
  } catch {
    return out
  }
  for (const key of keys) {
    try {
      if (isSensitiveName(key, sensitivePatterns)) {
        out[key] = REDACTED_HEADER_VALUE
      } else {
        const v = headers[key]
        out[key] = Array.isArray(v) ? v.slice() : v
      }
    } catch {
      out[key] = REDACTED_HEADER_VALUE
    }
  }
  return out
}
