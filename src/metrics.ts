/** A few Prometheus counters and gauges, rendered in the text exposition format. */
export function createMetrics() {
  const requests = new Map<string, number>();
  const started = Date.now();
  return {
    countRequest(method: string, route: string, status: number) {
      const key = `method="${method}",route="${route.replace(/"/g, '')}",status="${status}"`;
      requests.set(key, (requests.get(key) ?? 0) + 1);
    },
    render(gauges: Record<string, { help: string; value: number }>): string {
      const lines = [
        '# HELP keyhold_http_requests_total HTTP requests answered, by method, route and status.',
        '# TYPE keyhold_http_requests_total counter',
        ...[...requests].map(([labels, n]) => `keyhold_http_requests_total{${labels}} ${n}`),
        '# HELP keyhold_uptime_seconds Seconds since this process started serving.',
        '# TYPE keyhold_uptime_seconds gauge',
        `keyhold_uptime_seconds ${Math.round((Date.now() - started) / 1000)}`,
      ];
      for (const [name, { help, value }] of Object.entries(gauges)) {
        lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`);
      }
      return `${lines.join('\n')}\n`;
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
