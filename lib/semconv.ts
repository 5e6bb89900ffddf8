// Semantic-convention helpers shared by the HTTP instrumentations (http, undici, express/koa via lib/framework).

// Methods named as-is; anything else is `_OTHER`, keeping span names low-cardinality.
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY'])

/** `http.request.method` for a raw method: itself when it is a known method, else `_OTHER`. */
export function httpMethod (raw: unknown): string {
  return typeof raw === 'string' && KNOWN_METHODS.has(raw) ? raw : '_OTHER'
}
