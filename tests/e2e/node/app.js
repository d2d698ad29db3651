'use strict'

// The Node.js application of the real-tracer end-to-end test (tests/e2e/node/run.sh).
// dd-trace is configured entirely by the environment run.sh sets (DD_TRACE_AGENT_URL, DD_ENV,
// DD_SERVICE, LLMObs, stats, telemetry, remote config). The app produces a known set of spans,
// flushes, and exits on its own so the tracer's exit hooks run (telemetry app-closing, last trace
// flush). The checker (check.py) holds the list of span names created here: keep them in sync.

const tracer = require('dd-trace').init()

// Required after init so that the http integration instruments them.
const http = require('node:http')

const log = (...args) => console.error('[e2e app]', ...args)

// Anything that does not finish in time fails the run instead of hanging CI.
const guard = setTimeout(() => {
  log('timed out')
  process.exit(3)
}, Number(process.env.E2E_APP_TIMEOUT_MS || 45000))
guard.unref()

function get (port, path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', d => { body += d })
      res.on('end', () => resolve({ status: res.statusCode, body }))
    })
    req.on('error', reject)
  })
}

async function main () {
  // An auto-instrumented HTTP server (web.request spans) with a manual child span.
  const server = http.createServer((req, res) => {
    if (req.url.startsWith('/users/')) {
      tracer.trace('e2e.db.query', { resource: 'SELECT * FROM users WHERE id = ?', type: 'sql' },
        span => { span.setTag('db.rows', 1) })
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ id: req.url.slice('/users/'.length) }))
    } else {
      res.statusCode = 404
      res.end('not found')
    }
  })
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = server.address().port

  // A client-side root span with auto-instrumented http.request children.
  await tracer.trace('e2e.checkout', { resource: 'checkout' }, async span => {
    span.setTag('customer.tier', 'gold')
    const a = await get(port, '/users/42')
    const b = await get(port, '/missing')
    if (a.status !== 200 || b.status !== 404) throw new Error(`unexpected statuses ${a.status} ${b.status}`)
  })

  // Sampling decisions made by the user: one trace dropped, one kept.
  tracer.trace('e2e.dropped', span => {
    span.setTag('manual.drop', true)
    tracer.trace('e2e.dropped.child', () => {})
  })
  tracer.trace('e2e.kept', span => {
    span.setTag('manual.keep', true)
    tracer.trace('e2e.kept.child', () => {})
  })

  // LLM Observability: a workflow with an llm span, plus an llm span inside a dropped APM trace.
  const llmobs = tracer.llmobs
  let exported
  await llmobs.trace({ kind: 'workflow', name: 'e2e-workflow' }, async () => {
    llmobs.trace({ kind: 'llm', name: 'e2e-llm-call', modelName: 'gpt-e2e', modelProvider: 'openai' },
      span => {
        llmobs.annotate({
          inputData: [{ role: 'user', content: 'What is the capital of France?' }],
          outputData: [{ role: 'assistant', content: 'Paris.' }],
          metadata: { temperature: 0 },
          metrics: { inputTokens: 9, outputTokens: 2, totalTokens: 11 },
          tags: { team: 'e2e' },
        })
        exported = llmobs.exportSpan(span)
      })
  })
  tracer.trace('e2e.background.job', span => {
    span.setTag('manual.drop', true)
    llmobs.trace({ kind: 'llm', name: 'e2e-llm-in-dropped-trace', modelName: 'gpt-e2e', modelProvider: 'openai' },
      () => {
        llmobs.annotate({
          inputData: 'summarize the nightly batch',
          outputData: 'nothing to report',
        })
      })
  })
  llmobs.submitEvaluation(exported, { label: 'e2e-correctness', metricType: 'score', value: 0.9 })

  // A custom metric (DogStatsD, through the Agent's /dogstatsd/v2/proxy when available).
  tracer.dogstatsd.increment('e2e.requests', 1, { route: 'checkout' })

  await new Promise(resolve => server.close(resolve))

  // Let remote config and telemetry heartbeats happen at least once more, then flush everything:
  // traces and span stats (flushAll is the tracer's own "flush before the lifecycle ends" hook),
  // LLMObs events and metrics. Whatever is left goes out from the tracer's beforeExit handlers.
  await new Promise(resolve => setTimeout(resolve, Number(process.env.E2E_APP_LINGER_MS || 1500)))
  llmobs.flush()
  tracer.dogstatsd.flush()
  const inner = tracer._tracer
  if (inner && typeof inner.flushAll === 'function') {
    await new Promise(resolve => inner.flushAll(resolve, { timeout: 5000 }))
  } else {
    log('tracer has no flushAll; waiting for the periodic flush')
    await new Promise(resolve => setTimeout(resolve, 2500))
  }
  log('done; exiting')
}

main().catch(err => {
  log('failed:', err)
  process.exitCode = 1
})
