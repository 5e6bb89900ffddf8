// Parses V8 stack strings (`err.stack`) into frames, classifying app / library / native frames relative to the app root.
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'

export interface StackFrame {
  /** Function as V8 prints it (`Foo.bar`, `new Foo`, `Object.<anonymous>`), without `async ` and `[as x]`; null when anonymous. */
  function: string | null
  /** Path relative to the app root when inside it, else absolute (or `node:…` for internals); null when unknown. */
  file: string | null
  /** Absolute path (file: URLs converted); null for internals, native and anonymous frames. */
  absPath: string | null
  line: number | null
  column: number | null
  /** Node internals (`node:…`) and native builtins (`native`, `<anonymous>`, `Promise.all (index 0)`). */
  native: boolean
  /** Inside node_modules. */
  library: boolean
  /** An `at async fn` frame. */
  async: boolean
  /** Application code: neither native nor library, with a known file. */
  inApp: boolean
  /** The frame's original line, trimmed. */
  raw?: string
  /** Filled by enrichFrames: source lines around the frame. */
  contextLine?: string
  preContext?: string[]
  postContext?: string[]
  /** Filled by enrichFrames when a source map moved the frame: where V8 said it was. */
  generated?: { file: string | null, absPath: string, line: number, column: number | null }
}

export interface ParseOptions {
  /** Absolute directory the app lives in; frames under it get relative `file`s. */
  appRoot: string
  /** At most this many frames (default 50). */
  maxFrames?: number
  /** Skip this many characters first (the `Type: message` header, which may itself contain "at " lines). */
  skip?: number
}

export const DEFAULT_MAX_FRAMES = 50
const MAX_LINE_LENGTH = 4096

function isWindowsPath (p: string): boolean {
  const c = p.charCodeAt(0)
  return (p.length > 2 && p.charCodeAt(1) === 58 && (p.charCodeAt(2) === 92 || p.charCodeAt(2) === 47) &&
    ((c >= 65 && c <= 90) || (c >= 97 && c <= 122))) || p.startsWith('\\\\')
}

/** `file` for an absolute path: relative (with forward slashes) when under appRoot, else unchanged. */
export function relativeToRoot (absPath: string, appRoot: string): string {
  if (appRoot === '') return absPath
  if (isWindowsPath(absPath)) {
    if (!isWindowsPath(appRoot)) return absPath
    const rel = path.win32.relative(appRoot, absPath)
    if (rel === '' || rel.startsWith('..') || path.win32.isAbsolute(rel)) return absPath
    return rel.replace(/\\/g, '/')
  }
  if (!absPath.startsWith('/') || !appRoot.startsWith('/')) return absPath
  const root = appRoot.endsWith('/') ? appRoot : appRoot + '/'
  return absPath.startsWith(root) ? absPath.slice(root.length) : absPath
}

function isLibraryPath (p: string): boolean {
  return p.includes('/node_modules/') || p.includes('\\node_modules\\') || p.startsWith('node_modules/')
}

/** Splits `path:line:col` (or `path:line`) at its trailing numbers. */
function splitLocation (loc: string): { where: string, line: number | null, column: number | null } {
  let where = loc
  let line: number | null = null
  let column: number | null = null
  let colon = where.lastIndexOf(':')
  if (colon > 0 && isAllDigits(where, colon + 1)) {
    const last = Number(where.slice(colon + 1))
    where = where.slice(0, colon)
    colon = where.lastIndexOf(':')
    if (colon > 0 && isAllDigits(where, colon + 1)) {
      line = Number(where.slice(colon + 1))
      column = last
      where = where.slice(0, colon)
    } else {
      line = last
    }
  }
  return { where, line, column }
}

function isAllDigits (s: string, from: number): boolean {
  if (from >= s.length) return false
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

/** Whether `loc` (the text inside the parentheses) looks like a frame location. */
function looksLikeLocation (loc: string): boolean {
  if (loc === 'native' || loc === '<anonymous>' || loc.startsWith('index ') || loc.startsWith('eval at ')) return true
  const { where, line } = splitLocation(loc)
  if (line === null) return false
  // An absolute path, a URL (file:, node:, webpack:…), or a bare id without spaces (old builtins):
  // so a function name holding " (" is not mistaken for the start of the location.
  return where.startsWith('/') || where.startsWith('\\') || where === '<anonymous>' ||
    /^[A-Za-z][A-Za-z0-9+.-]*:/.test(where) || !where.includes(' ')
}

/** For `eval at fn (LOCATION), <anonymous>:1:2`: the innermost LOCATION the eval was called from. */
function evalOrigin (loc: string): string | null {
  const close = loc.indexOf(')')
  if (close === -1) return null
  const open = loc.lastIndexOf('(', close)
  return open === -1 ? null : loc.slice(open + 1, close)
}

function makeFrame (fn: string | null, loc: string | null, isAsync: boolean, appRoot: string, raw: string): StackFrame {
  const frame: StackFrame = {
    function: fn,
    file: null,
    absPath: null,
    line: null,
    column: null,
    native: false,
    library: false,
    async: isAsync,
    inApp: false,
    raw
  }
  if (loc === null) return frame
  if (loc.startsWith('eval at ')) {
    const origin = evalOrigin(loc)
    if (origin === null) return frame
    loc = origin
  }
  if (loc === 'native' || loc.startsWith('index ')) {
    frame.native = true
    return frame
  }
  const { where, line, column } = splitLocation(loc)
  frame.line = line
  frame.column = column
  if (where === '<anonymous>' || where === '') {
    frame.native = line === null
    return frame
  }
  if (where.startsWith('node:') || (!where.includes('/') && !where.includes('\\') && !where.startsWith('file:'))) {
    // node:internal/…, or a bare builtin module id as older Node versions print them (`events.js`).
    frame.native = true
    frame.file = where
    return frame
  }
  let abs = where
  if (where.startsWith('file://')) {
    try {
      abs = fileURLToPath(where)
    } catch {
      abs = where
    }
  }
  frame.absPath = abs
  frame.file = relativeToRoot(abs, appRoot)
  frame.library = isLibraryPath(abs)
  frame.inApp = !frame.library
  return frame
}

/** Parses one trimmed `at …` line; null when it is not a frame line. */
export function parseFrameLine (line: string, appRoot: string): StackFrame | null {
  if (!line.startsWith('at ')) return null
  let rest = line.slice(3)
  let isAsync = false
  if (rest.startsWith('async ')) {
    isAsync = true
    rest = rest.slice(6)
  }
  let fn: string | null = null
  let loc: string | null = null
  if (rest.endsWith(')')) {
    // `fn (location)`: the first " (" whose remainder is a location; paths may hold " (" too.
    let open = rest.indexOf(' (')
    while (open !== -1) {
      const candidate = rest.slice(open + 2, -1)
      if (looksLikeLocation(candidate)) {
        fn = rest.slice(0, open)
        loc = candidate
        break
      }
      open = rest.indexOf(' (', open + 1)
    }
  }
  if (loc === null) {
    // `at location` with no function, or `at fn` with nothing parseable.
    if (looksLikeLocation(rest)) loc = rest
    else fn = rest
  }
  if (fn !== null) {
    const alias = fn.lastIndexOf(' [as ')
    if (alias !== -1 && fn.endsWith(']')) fn = fn.slice(0, alias)
    if (fn === '' || fn === '<anonymous>') fn = null
  }
  return makeFrame(fn, loc, isAsync, appRoot, line)
}

/**
 * Parses a V8 stack string into at most `maxFrames` frames. Lines that are not `at …` frames (the
 * message, notes that tools add) are ignored; never throws.
 */
export function parseStack (stack: unknown, opts: ParseOptions): StackFrame[] {
  const frames: StackFrame[] = []
  if (typeof stack !== 'string') return frames
  const max = opts.maxFrames ?? DEFAULT_MAX_FRAMES
  const appRoot = typeof opts.appRoot === 'string' ? opts.appRoot : ''
  let pos = opts.skip !== undefined && opts.skip > 0 ? opts.skip : 0
  const n = stack.length
  try {
    while (pos < n && frames.length < max) {
      let nl = stack.indexOf('\n', pos)
      if (nl === -1) nl = n
      // Only look at the start of long lines: a frame line is short, a 10 MB message line is not one.
      const lineEnd = Math.min(nl, pos + MAX_LINE_LENGTH)
      let start = pos
      while (start < lineEnd && (stack.charCodeAt(start) === 32 || stack.charCodeAt(start) === 9)) start++
      if (start > pos && nl - pos <= MAX_LINE_LENGTH && stack.startsWith('at ', start)) {
        let end = nl
        if (stack.charCodeAt(end - 1) === 13) end--
        const frame = parseFrameLine(stack.slice(start, end), appRoot)
        if (frame !== null) frames.push(frame)
      }
      pos = nl + 1
    }
  } catch {}
  return frames
}

/** Formats a frame back into V8's `at …` form (used when a frame was moved by a source map). */
export function formatFrame (frame: StackFrame): string {
  const where = frame.absPath ?? frame.file ?? '<anonymous>'
  const pos = frame.line === null ? '' : ':' + frame.line + (frame.column === null ? '' : ':' + frame.column)
  const prefix = frame.async ? 'async ' : ''
  return frame.function === null ? `at ${prefix}${where}${pos}` : `at ${prefix}${frame.function} (${where}${pos})`
}
