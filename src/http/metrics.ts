import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { loadedSetHash } from '../kernel/loaded-set.js';
import type { Outcome } from '../core/types.js';
import type { Kernel } from '../kernel/kernel.js';
import type { KernelObserver, PipelineStage } from '../kernel/observer.js';

const CIRCUIT_VALUE = { closed: 0, half_open: 1, open: 2 } as const;
const STAGE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface MetricsSources {
  kernel: Kernel;
  sessions: () => number;
  eventStreams: () => number;
}

/**
 * Prometheus metrics of one serving process, in a registry of its own. It is
 * also the kernel's observer: the kernel reports stage timings and decisions
 * through the KernelObserver port and never imports prom-client.
 */
export class Metrics implements KernelObserver {
  readonly registry = new Registry();
  private readonly decisions;
  private readonly decisionSeconds;
  private readonly stageSeconds;
  private readonly rateLimited;
  private readonly rejections;
  private readonly requests;

  private sources: MetricsSources | null = null;

  /** Created before the runtime (it is the kernel's observer); `attach` gives it what the gauges read. */
  constructor() {
    const registers = [this.registry];
    const src = () => this.sources;
    this.decisions = new Counter({
      name: 'mandate_decisions_total',
      help: 'Decisions answered by this process, by verdict and primary reason code ("none" for a plain accept).',
      labelNames: ['verdict', 'reason'] as const,
      registers,
    });
    this.decisionSeconds = new Histogram({
      name: 'mandate_decision_duration_seconds',
      help: 'Time from receipt to outcome of each decision, by verdict.',
      labelNames: ['verdict'] as const,
      buckets: STAGE_BUCKETS,
      registers,
    });
    this.stageSeconds = new Histogram({
      name: 'mandate_pipeline_stage_duration_seconds',
      help: 'Time spent in each pipeline stage (received, checks, facts, dim, policy, escalate, reserve, pre_effect, handler, record).',
      labelNames: ['stage'] as const,
      buckets: STAGE_BUCKETS,
      registers,
    });
    this.rateLimited = new Counter({
      name: 'mandate_rate_limit_rejections_total',
      help: 'Requests refused with 429 by a rate limit, by bucket (principal or overall) and principal kind.',
      labelNames: ['scope', 'kind'] as const,
      registers,
    });
    this.rejections = new Counter({
      name: 'mandate_http_rejections_total',
      help: 'Requests the HTTP edge turned away, by error code.',
      labelNames: ['code'] as const,
      registers,
    });
    this.requests = new Counter({
      name: 'mandate_http_requests_total',
      help: 'HTTP requests answered, by route and status.',
      labelNames: ['route', 'status'] as const,
      registers,
    });
    new Gauge({
      name: 'mandate_circuit_state',
      help: 'Circuit breaker state per capability in this process: 0 closed, 1 half-open, 2 open.',
      labelNames: ['capability'] as const,
      registers,
      collect() {
        const kernel = src()?.kernel;
        if (kernel) for (const id of kernel.workspace.capabilities.keys()) this.set({ capability: id }, CIRCUIT_VALUE[kernel.breakers.state(id)]);
      },
    });
    new Gauge({
      name: 'mandate_pending_approvals',
      help: 'Escalations waiting for a human (from the store, so across processes).',
      registers,
      async collect() {
        const kernel = src()?.kernel;
        if (kernel) this.set(await kernel.deps.store.decisions.pendingCount());
      },
    });
    new Gauge({
      name: 'mandate_mcp_sessions',
      help: 'Open MCP sessions in this process.',
      registers,
      collect() {
        this.set(src()?.sessions() ?? 0);
      },
    });
    new Gauge({
      name: 'mandate_event_streams',
      help: 'Open GET /events streams in this process.',
      registers,
      collect() {
        this.set(src()?.eventStreams() ?? 0);
      },
    });
    new Gauge({
      name: 'mandate_loaded_set_info',
      help: 'The set of contracts, policies and capability modules this process serves (1, labelled by its hash and the policy set hash): replicas with different hashes serve different sets.',
      labelNames: ['set_hash', 'policy_set_hash'] as const,
      registers,
      collect() {
        this.reset();
        const ws = src()?.kernel.workspace;
        if (ws) this.set({ set_hash: loadedSetHash(ws), policy_set_hash: ws.policySet.hash }, 1);
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'mandate_process_' });
  }

  attach(sources: MetricsSources): void {
    this.sources = sources;
  }

  now(): number {
    return performance.now();
  }

  stage(stage: PipelineStage, ms: number): void {
    this.stageSeconds.observe({ stage }, ms / 1000);
  }

  decision(outcome: Outcome, ms: number): void {
    this.decisions.inc({ verdict: outcome.verdict, reason: outcome.reasons[0] ?? 'none' });
    this.decisionSeconds.observe({ verdict: outcome.verdict }, ms / 1000);
  }

  rateLimitedRequest(scope: 'principal' | 'overall', kind: string): void {
    this.rateLimited.inc({ scope, kind });
  }

  rejected(code: string): void {
    this.rejections.inc({ code });
  }

  answered(route: string, status: number): void {
    this.requests.inc({ route, status: String(status) });
  }

  async render(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}
