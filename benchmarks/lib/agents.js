'use strict'
// The agents under test: how each is loaded (node flags) and configured (environment) against the local sink.
// Every exporter ships at most every ~1 s (apm's default; the peers' intervals are set to match) so the sink
// can count everything shortly after the load stops. Otherwise each agent runs with its defaults.
const { existsSync, readFileSync } = require('node:fs')
const { join } = require('node:path')

const ROOT = join(__dirname, '..', '..')
const PEERS = join(__dirname, '..', 'peers', 'node_modules')

function version (dir) {
  try { return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version } catch { return undefined }
}

/** sinkUrl: the local intake; returns [{ id, label, nodeArgs, env, exports, version, missing }]. */
function agents (sinkUrl) {
  const apmStart = join(ROOT, 'dist', 'lib', 'start.js')
  const apmEnv = { APM_SERVER_URL: sinkUrl, APM_SERVICE_NAME: 'bench', APM_LOG_LEVEL: 'warn' }
  const list = [
    { id: 'none', label: 'no agent', nodeArgs: [], env: {}, exports: false, version: '' },
    { id: 'apm', label: 'apm', nodeArgs: ['-r', apmStart], env: apmEnv, exports: true, version: version(ROOT), entry: apmStart },
    { id: 'apm-off', label: 'apm `active: false`', nodeArgs: ['-r', apmStart], env: { ...apmEnv, APM_ACTIVE: 'false' }, exports: false, version: version(ROOT), entry: apmStart },
    {
      id: 'elastic',
      label: 'elastic-apm-node',
      entry: join(PEERS, 'elastic-apm-node', 'start.js'),
      env: {
        ELASTIC_APM_SERVER_URL: sinkUrl,
        ELASTIC_APM_SERVICE_NAME: 'bench',
        ELASTIC_APM_CENTRAL_CONFIG: 'false',
        ELASTIC_APM_CLOUD_PROVIDER: 'none',
        ELASTIC_APM_METRICS_INTERVAL: '0s',
        ELASTIC_APM_API_REQUEST_TIME: '1s',
        ELASTIC_APM_LOG_LEVEL: 'error'
      },
      exports: true,
      version: version(join(PEERS, 'elastic-apm-node'))
    },
    {
      id: 'otel',
      label: 'OpenTelemetry (sdk-node + auto)',
      entry: join(PEERS, '@opentelemetry', 'auto-instrumentations-node', 'build', 'src', 'register.js'),
      env: {
        OTEL_SERVICE_NAME: 'bench',
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
        // The cloud detectors probe metadata endpoints at start-up; none exist here.
        OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process,serviceinstance',
        OTEL_BSP_SCHEDULE_DELAY: '1000',
        OTEL_LOG_LEVEL: 'error'
      },
      exports: true,
      version: version(join(PEERS, '@opentelemetry', 'sdk-node')) && `sdk-node ${version(join(PEERS, '@opentelemetry', 'sdk-node'))}, auto ${version(join(PEERS, '@opentelemetry', 'auto-instrumentations-node'))}`
    },
    {
      id: 'dd',
      label: 'dd-trace',
      entry: join(PEERS, 'dd-trace', 'init.js'),
      env: {
        DD_TRACE_AGENT_URL: sinkUrl,
        DD_SERVICE: 'bench',
        DD_ENV: 'bench',
        DD_TRACE_STARTUP_LOGS: 'false',
        DD_INSTRUMENTATION_TELEMETRY_ENABLED: 'false',
        DD_REMOTE_CONFIGURATION_ENABLED: 'false',
        DD_RUNTIME_METRICS_ENABLED: 'false',
        DD_PROFILING_ENABLED: 'false',
        DD_TRACE_STATS_COMPUTATION_ENABLED: 'false',
        DD_TRACE_FLUSH_INTERVAL: '1000'
      },
      exports: true,
      version: version(join(PEERS, 'dd-trace'))
    }
  ]
  for (const a of list) {
    if (a.nodeArgs === undefined) a.nodeArgs = ['-r', a.entry]
    a.missing = a.entry !== undefined && !existsSync(a.entry) ? `${a.entry} not found` : undefined
  }
  return list
}

module.exports = { agents, ROOT, PEERS }
