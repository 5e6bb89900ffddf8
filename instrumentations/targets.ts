// The modules and version ranges each instrumentation covers, as data shared by the registry (index.ts: what to load
// when a module is required, and the README tables) and the instrumentation files (what their patches apply to).
// Nothing else here: it is loaded at start-up.

export const HTTP = { module: 'http', versions: '*' } as const
export const HTTPS = { module: 'https', versions: '*' } as const

export const PG = { module: 'pg', versions: '>=8.0.3 <9' } as const
export const PG_POOL = { module: 'pg-pool', versions: '>=3 <4' } as const
export const PG_CURSOR = { module: 'pg-cursor', versions: '>=2 <3' } as const

export const UNDICI = {
  module: 'diagnostics_channel',
  versions: '*',
  covers: 'global `fetch` (the undici bundled with Node.js) and the `undici` package `>=5`, through its diagnostics channels'
} as const

export const EXPRESS_4 = { module: 'express', versions: '>=4.0.0 <5' } as const
export const EXPRESS_5 = { module: 'express', versions: '>=5.0.0 <6' } as const
export const ROUTER_2 = { module: 'router', versions: '>=2.0.0 <3' } as const

export const KOA = { module: 'koa', versions: '>=2.0.0 <4' } as const
