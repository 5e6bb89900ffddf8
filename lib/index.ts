// The public surface of apm: the agent singleton (default export, and `require('apm')` itself) and its types.
import { Agent } from './agent'

const agent = new Agent()

// `import agent from 'apm'` compiled without esModuleInterop reads `.default`; keep it pointing at the agent.
Object.defineProperty(agent, 'default', { value: agent, enumerable: false })

export default agent
export type { Agent, CaptureErrorParams, TraceIds, User } from './agent'
export type { AgentOptions, Config } from './config'
export type { AgentStats } from './export/stats'
export type { Span, Transaction, AttributeValue } from './trace/span'

// CommonJS: require('apm') is the agent itself, so require('apm').start() works.
module.exports = agent
