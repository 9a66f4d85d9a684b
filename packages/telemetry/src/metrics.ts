import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The metrics every agentbus service exposes on /metrics, in its own registry. */
export interface ServiceMetrics {
  registry: Registry;
  /** Deliveries by consumer, message type and outcome (acked, retry, dead-lettered, skipped-duplicate, skipped-unhandled). */
  messages: Counter<'consumer' | 'type' | 'outcome'>;
  /** Handler run time by consumer, type and result. */
  handlerSeconds: Histogram<'consumer' | 'type' | 'result'>;
  /** 1 when the service is ready (connected, consumers bound). */
  ready: Gauge;
  /** Pulls a consumer started again after losing them (missed heartbeats, a consumer or stream gone), by reason. */
  pullRestarts: Counter<'consumer' | 'reason'>;
}

export function createMetrics(service: string): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'agentbus_process_' });
  return {
    registry,
    messages: new Counter({ name: 'agentbus_messages_total', help: 'Deliveries handled, by outcome', labelNames: ['consumer', 'type', 'outcome'], registers: [registry] }),
    handlerSeconds: new Histogram({
      name: 'agentbus_handler_seconds',
      help: 'Handler run time',
      labelNames: ['consumer', 'type', 'result'],
      buckets: [0.005, 0.02, 0.1, 0.5, 1, 5, 15, 60, 300],
      registers: [registry],
    }),
    ready: new Gauge({ name: 'agentbus_ready', help: '1 when the service is connected and its consumers are bound', registers: [registry] }),
    pullRestarts: new Counter({ name: 'agentbus_consumer_pull_restarts_total', help: 'Pulls started again after the consumer lost them (missed heartbeats, a consumer or stream gone)', labelNames: ['consumer', 'reason'], registers: [registry] }),
  };
}
