/**
 * Optional OpenTelemetry tracing through Temporal's interceptors (@temporalio/interceptors-opentelemetry):
 * a span per workflow run (`RunWorkflow:<type>`), per activity scheduled (`StartActivity:<type>`), per child
 * workflow started and per activity execution (`RunActivity:<type>`), all in one trace per run (one per
 * start when the client that started it propagates its own trace: see clientTracing()).
 *
 *   JUDGELOOP_OTEL=1            turn tracing on (1/true/on/yes; 0/false/off/no or unset: off)
 *   OTEL_EXPORTER_OTLP_ENDPOINT where spans go over OTLP/HTTP (protobuf-free JSON, port 4318), e.g.
 *                               http://127.0.0.1:4318 (the exporter's default when unset);
 *                               OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS,
 *                               OTEL_EXPORTER_OTLP_TIMEOUT … are read by the exporter as usual
 *   JUDGELOOP_OTEL_FILE=PATH    also (or, without an OTLP endpoint, only) append every span as one JSON line
 *                               to PATH, for local debugging; setting it turns tracing on by itself
 *   OTEL_SERVICE_NAME           the resource's service.name (default judgeloop-worker)
 *
 * Workflow spans are made inside the workflow sandbox by the package's workflow interceptor module, which
 * must be in the workflow bundle (bundleWorkflows' `workflowInterceptorModules`), and leave it through the
 * `exporter` sink; activity spans are made by the activity interceptors in this process.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as otel from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, hrTimeToMilliseconds, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type ReadableSpan,
  type Span,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
  makeWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry';
import type { Context as ActivityContext } from '@temporalio/activity';
import type { ActivityInterceptors, ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import { ObservabilityConfigError, judgeloopLogFields } from './logging';

/** The workflow interceptor module of @temporalio/interceptors-opentelemetry (goes into the workflow bundle). */
export const OTEL_WORKFLOW_INTERCEPTORS_MODULE = require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

export interface TracingOptions {
  enabled: boolean;
  /** Export over OTLP/HTTP (to OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, or the exporter's default). */
  otlp: boolean;
  /** The endpoint as configured, for the start-up message (undefined: the exporter's default). */
  otlpEndpoint?: string;
  /** Append spans as JSON lines to this file. */
  file?: string;
  serviceName: string;
}

const ON = ['1', 'true', 'on', 'yes'];
const OFF = ['0', 'false', 'off', 'no'];

function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

/** Tracing settings of an environment (pure); throws ObservabilityConfigError naming a bad variable. */
export function parseTracingOptions(env: NodeJS.ProcessEnv = process.env, defaultServiceName = 'judgeloop-worker'): TracingOptions {
  const raw = envValue(env, 'JUDGELOOP_OTEL');
  const file = envValue(env, 'JUDGELOOP_OTEL_FILE');
  let enabled: boolean;
  if (raw === undefined) enabled = file !== undefined;
  else if (ON.includes(raw.toLowerCase())) enabled = true;
  else if (OFF.includes(raw.toLowerCase())) enabled = false;
  else throw new ObservabilityConfigError(`JUDGELOOP_OTEL is "${raw}": use 1 to turn tracing on or 0 to leave it off.`);
  const serviceName = envValue(env, 'OTEL_SERVICE_NAME') ?? defaultServiceName;
  if (!enabled) return { enabled: false, otlp: false, serviceName };

  const endpointVar = envValue(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  const otlpEndpoint = envValue(env, endpointVar);
  if (otlpEndpoint !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(otlpEndpoint);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new ObservabilityConfigError(
        `${endpointVar} is "${otlpEndpoint}": tracing exports OTLP over HTTP, so give an http:// or https:// URL such as http://127.0.0.1:4318.`,
      );
    }
  }
  const protocol = envValue(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? envValue(env, 'OTEL_EXPORTER_OTLP_PROTOCOL');
  if (protocol !== undefined && protocol !== 'http/json' && protocol !== 'http/protobuf') {
    throw new ObservabilityConfigError(`OTEL_EXPORTER_OTLP_PROTOCOL is "${protocol}": Judgeloop exports traces over OTLP/HTTP (JSON) only; unset it.`);
  }
  if (file !== undefined) {
    const dir = path.dirname(path.resolve(file));
    if (!fs.existsSync(dir)) throw new ObservabilityConfigError(`JUDGELOOP_OTEL_FILE is ${file}, but its folder ${dir} does not exist.`);
  }
  // With a file and no endpoint, the file is the only exporter (local debugging needs no collector).
  const otlp = otlpEndpoint !== undefined || file === undefined;
  return { enabled: true, otlp, otlpEndpoint, file, serviceName };
}

export function describeTracing(opts: TracingOptions): string {
  if (!opts.enabled) return 'off';
  const to: string[] = [];
  if (opts.otlp) to.push(`OTLP/HTTP ${opts.otlpEndpoint ?? 'http://localhost:4318 (default)'}`);
  if (opts.file) to.push(`file ${opts.file}`);
  return `on, service ${opts.serviceName}, to ${to.join(' and ')}`;
}

/** One span as a JSON-able record (the format of JUDGELOOP_OTEL_FILE's lines). */
export function spanRecord(span: ReadableSpan): Record<string, unknown> {
  const ctx = span.spanContext();
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    parentSpanId: span.parentSpanId ?? null,
    name: span.name,
    kind: otel.SpanKind[span.kind] ?? span.kind,
    startTime: new Date(hrTimeToMilliseconds(span.startTime)).toISOString(),
    durationMs: hrTimeToMilliseconds(span.duration),
    status: { code: otel.SpanStatusCode[span.status.code] ?? span.status.code, message: span.status.message },
    attributes: span.attributes,
    events: span.events.map((e) => ({ name: e.name, time: new Date(hrTimeToMilliseconds(e.time)).toISOString(), attributes: e.attributes })),
    links: span.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId })),
    resource: span.resource.attributes,
  };
}

/** Appends each span as one JSON line to a file (synchronously, so a span is on disk once it has ended). */
export class FileSpanExporter implements SpanExporter {
  private stopped = false;

  constructor(readonly file: string) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.stopped) return resultCallback({ code: ExportResultCode.FAILED, error: new Error('exporter is shut down') });
    try {
      const lines = spans.map((s) => safeJson(spanRecord(s))).join('\n');
      if (lines) fs.appendFileSync(this.file, lines + '\n');
      resultCallback({ code: ExportResultCode.SUCCESS });
    } catch (err) {
      resultCallback({ code: ExportResultCode.FAILED, error: err as Error });
    }
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
  }

  async forceFlush(): Promise<void> {}
}

function safeJson(value: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v && typeof v === 'object') {
      if (seen.has(v)) return '[Circular]';
      seen.add(v);
    }
    return v;
  });
}

/** Hands every span to each processor (the provider's, and the workflow sink's, single processor). */
class FanoutSpanProcessor implements SpanProcessor {
  constructor(private readonly processors: SpanProcessor[]) {}
  onStart(span: Span, parentContext: otel.Context): void {
    for (const p of this.processors) p.onStart(span, parentContext);
  }
  onEnd(span: ReadableSpan): void {
    for (const p of this.processors) p.onEnd(span);
  }
  async forceFlush(): Promise<void> {
    await Promise.all(this.processors.map((p) => p.forceFlush()));
  }
  async shutdown(): Promise<void> {
    await Promise.all(this.processors.map((p) => p.shutdown()));
  }
}

export interface WorkerTracing {
  options: TracingOptions;
  /** Activity interceptors: the OpenTelemetry ones, then one that tags the activity span with run/iteration/step. */
  activityInterceptors: ActivityInterceptorsFactory[];
  /** The workflow span exporter sink (`exporter`) for Worker.create's sinks. */
  sinks: InjectedSinks<any>;
  /** Goes into the workflow bundle. */
  workflowInterceptorModules: string[];
  /** Client interceptors for the worker's own client (activities that start workflows). */
  clientInterceptors: WorkflowClientInterceptor[];
  /** Exports what is pending and stops the exporters. */
  shutdown(): Promise<void>;
}

function makeProvider(opts: TracingOptions): { provider: BasicTracerProvider; processor: SpanProcessor; resource: Resource } {
  const processors: SpanProcessor[] = [];
  if (opts.file) processors.push(new SimpleSpanProcessor(new FileSpanExporter(opts.file)));
  if (opts.otlp) processors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  const processor = new FanoutSpanProcessor(processors);
  const resource = Resource.default().merge(new Resource({ [ATTR_SERVICE_NAME]: opts.serviceName }));
  const provider = new BasicTracerProvider({ resource, spanProcessors: [processor] });
  // The global provider, context manager (activity spans are the active span inside the activity) and the
  // W3C trace-context propagator (OTEL_PROPAGATORS) that carries the parent span in Temporal headers.
  provider.register({ contextManager: new AsyncLocalStorageContextManager().enable() });
  return { provider, processor, resource };
}

/** Tags an activity's span (the active one, when tracing) with Judgeloop's run, iteration and step. */
function judgeloopSpanInterceptor(ctx: ActivityContext): ActivityInterceptors {
  return {
    inbound: {
      async execute(input, next) {
        const span = otel.trace.getActiveSpan();
        const info = ctx.info;
        const fields = judgeloopLogFields({
          workflowId: info.workflowExecution?.workflowId,
          workflowType: info.workflowType,
          activityType: info.activityType,
        });
        if (span && fields) span.setAttributes(spanAttributes(fields));
        return next(input);
      },
    },
  };
}

function spanAttributes(fields: { run: string; iteration?: number | null; step?: string }): otel.Attributes {
  const attrs: otel.Attributes = { 'judgeloop.run': fields.run };
  if (typeof fields.iteration === 'number') attrs['judgeloop.iteration'] = fields.iteration;
  if (fields.step) attrs['judgeloop.step'] = fields.step;
  return attrs;
}

/**
 * Starts tracing for the worker process (registers the global tracer provider): call once, before
 * Worker.create. Returns what Worker.create and bundleWorkflows need.
 */
export function startWorkerTracing(opts: TracingOptions): WorkerTracing {
  if (!opts.enabled) throw new Error('startWorkerTracing: tracing is off');
  const { provider, processor, resource } = makeProvider(opts);
  const exporterSink = makeWorkflowExporter(processor, resource);
  const exportSpans = exporterSink.export.fn;
  // Workflow spans carry the workflow's info (workflowId, workflowType …) as attributes; add Judgeloop's too.
  exporterSink.export.fn = (info, spans) => {
    const fields = judgeloopLogFields({ workflowId: info.workflowId, workflowType: info.workflowType });
    if (fields) for (const s of spans) Object.assign(s.attributes, spanAttributes(fields));
    return exportSpans(info, spans);
  };
  return {
    options: opts,
    activityInterceptors: [
      (ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) }),
      judgeloopSpanInterceptor,
    ],
    sinks: { exporter: exporterSink },
    workflowInterceptorModules: [OTEL_WORKFLOW_INTERCEPTORS_MODULE],
    clientInterceptors: [new OpenTelemetryWorkflowClientInterceptor()],
    shutdown: () => provider.shutdown(),
  };
}

export interface ClientTracing {
  options: TracingOptions;
  /** For `new Client({ interceptors: { workflow: … } })`. */
  workflowInterceptors: WorkflowClientInterceptor[];
  /** Exports the spans ended so far (call before the command returns; tracing stays usable). */
  flush(): Promise<void>;
}

let clientProvider: BasicTracerProvider | undefined;

/**
 * Tracing for a client process (the CLI) from the same environment variables (service name judgeloop-cli
 * unless OTEL_SERVICE_NAME is set): its workflow starts get a `StartWorkflow:<type>` span whose context
 * travels in the workflow's headers, so the run's workflow and activity spans join the client's trace.
 * Undefined when tracing is off. The tracer provider is registered once per process (the CLI's main() may
 * run many times in one test process); a later call with other settings keeps the first one's exporters.
 */
export function clientTracing(env: NodeJS.ProcessEnv = process.env): ClientTracing | undefined {
  const opts = parseTracingOptions(env, 'judgeloop-cli');
  if (!opts.enabled) return undefined;
  clientProvider ??= makeProvider(opts).provider;
  const provider = clientProvider;
  return {
    options: opts,
    workflowInterceptors: [new OpenTelemetryWorkflowClientInterceptor()],
    flush: () => provider.forceFlush(),
  };
}
