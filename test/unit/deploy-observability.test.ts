import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { createApiMetrics } from '../../api/metrics';
import { businessMetrics } from '../../domain/business-metrics';
import {
  businessMetricSdkLabels,
  sampleNamesOf,
  scrapeLabels,
  sdkMetricLabels,
  sdkMetrics,
} from '../support/observability';

const root = path.resolve(__dirname, '../..');
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');
// Compose's `<<: *holdfast-env` is a YAML 1.1 merge key.
const yamlOf = (file: string) => parseYaml(read(file), { merge: true }) as Record<string, unknown>;

interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Array<{ refId: string; expr: string; datasource?: { uid: string } }>;
}

interface ComposeService {
  image?: string;
  environment?: Record<string, string | null>;
  entrypoint?: string[];
  command?: string[];
  volumes?: string[];
  ports?: string[];
}

const compose = yamlOf('docker-compose.yml') as {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
};
const prometheus = yamlOf('deploy/prometheus/prometheus.yml') as {
  rule_files: string[];
  scrape_configs: Array<{
    job_name: string;
    metrics_path?: string;
    authorization?: { type: string; credentials_file: string };
    static_configs?: Array<{ targets: string[] }>;
    dns_sd_configs?: Array<{ names: string[]; type: string; port: number }>;
  }>;
};
const alertGroups = (yamlOf('deploy/prometheus/alerts.yml') as { groups: Array<{ name: string; rules: AlertRule[] }> })
  .groups;
const alertRules = alertGroups.flatMap((group) => group.rules);
const dashboard = JSON.parse(read('deploy/grafana/dashboards/holdfast.json')) as { uid: string; panels: Panel[] };
const dashboardTargets = dashboard.panels.flatMap((panel) =>
  (panel.targets ?? []).map((target) => ({ panel, target })),
);

/** Every sample name the stack's targets export that an expression may use. */
function knownMetrics(): Set<string> {
  const names = new Set<string>(['up']);
  for (const [name, { type }] of Object.entries(businessMetrics))
    sampleNamesOf(name, type).forEach((n) => names.add(n));
  for (const [name, type] of Object.entries(sdkMetrics)) sampleNamesOf(name, type).forEach((n) => names.add(n));
  // What the API's own registry really holds, default process and Node metrics included.
  for (const metric of createApiMetrics().registry.getMetricsAsArray()) {
    const type = (metric as unknown as { type: string }).type;
    sampleNamesOf(metric.name, type).forEach((n) => names.add(n));
  }
  return names;
}

/**
 * The labels each sample name carries in a scrape, as Prometheus stores it: its own, the SDK's,
 * a histogram bucket's `le`, and the ones Prometheus adds to every target.
 */
function knownLabels(): Map<string, Set<string>> {
  const labels = new Map<string, Set<string>>();
  const add = (name: string, type: string, own: readonly string[]) => {
    for (const sample of sampleNamesOf(name, type)) {
      const set = new Set([...own, ...scrapeLabels]);
      if (sample.endsWith('_bucket')) set.add('le');
      labels.set(sample, set);
    }
  };
  add('up', 'gauge', []);
  for (const [name, definition] of Object.entries(businessMetrics))
    add(name, definition.type, [...definition.labels, ...businessMetricSdkLabels[definition.emittedBy]]);
  for (const [name, type] of Object.entries(sdkMetrics))
    add(name, type, [...sdkMetricLabels[name as keyof typeof sdkMetrics], 'service_name']);
  for (const metric of createApiMetrics().registry.getMetricsAsArray()) {
    const { type, labelNames } = metric as unknown as { type: string; labelNames?: string[] };
    add(metric.name, type, labelNames ?? []);
  }
  return labels;
}

/**
 * The label names an expression groups or filters by: the `by`, `without`, `on` and `ignoring`
 * clauses, and the label matchers.
 */
function labelNamesIn(expr: string): string[] {
  const bare = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const grouped = [...bare.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)].flatMap(
    (match) => match[1]!.split(','),
  );
  const matched = [...bare.matchAll(/\{([^}]*)\}/g)].flatMap((match) =>
    [...match[1]!.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((label) => label[1]!),
  );
  return [...new Set([...grouped, ...matched].map((label) => label.trim()).filter(Boolean))];
}

/** The labels of an expression that none of the metrics it reads carries. */
function unknownLabelsIn(expr: string, labels: Map<string, Set<string>>): string[] {
  const carried = new Set(metricNamesIn(expr).flatMap((name) => [...(labels.get(name) ?? [])]));
  return labelNamesIn(expr).filter((label) => !carried.has(label));
}

const promqlWords = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

/**
 * The metric names an expression reads: what is left once strings, label matchers, ranges,
 * grouping clauses, function calls, keywords and numbers are taken out.
 */
function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\boffset\s+-?[\w$]+/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = [...bare.matchAll(/(?<![\w$.])([a-zA-Z_:][\w:]*)(\s*\()?/g)]
    .filter((match) => match[2] === undefined && !promqlWords.has(match[1]!))
    .map((match) => match[1]!);
  return [...new Set(names)];
}

describe('Prometheus, its alert rules and the Grafana dashboard', () => {
  const known = knownMetrics();

  it('reads metric names out of an expression, leaving labels, ranges and functions aside', () => {
    expect(
      metricNamesIn(
        'sum by (le, task_queue) (rate(temporal_activity_schedule_to_start_latency_bucket{le="+Inf"}[$__rate_interval])) / on (task_queue) group_left up > 1 / 60 or (up unless up offset 15m)',
      ),
    ).toEqual(['temporal_activity_schedule_to_start_latency_bucket', 'up']);
  });

  it('reads label names out of an expression, leaving the matched values aside', () => {
    expect(
      labelNamesIn(
        'sum by (le, task_queue) (rate(x_bucket{le="+Inf",worker_type=~"a,b"}[5m])) / on (task_queue) group_left up{job!="by (x)"}',
      ).sort(),
    ).toEqual(['job', 'le', 'task_queue', 'worker_type']);
  });

  it('every alert rule and dashboard query groups and filters only by labels its metrics carry', () => {
    const labels = knownLabels();
    const expressions = [
      ...alertRules.map((rule) => ({ where: rule.alert, expr: rule.expr })),
      ...dashboardTargets.map(({ panel, target }) => ({ where: panel.title, expr: target.expr })),
    ];
    const unknown = expressions.flatMap(({ where, expr }) =>
      unknownLabelsIn(expr, labels).map((label) => `${where}: ${label}`),
    );

    expect(unknown).toEqual([]);
    // The check bites: the SDK's snake_case label on a business metric, or the reverse, is refused.
    expect(unknownLabelsIn('sum by (task_queue) (holdfast_flows_completed_total)', labels)).toEqual(['task_queue']);
    expect(unknownLabelsIn('sum by (taskQueue) (temporal_workflow_failed)', labels)).toEqual(['taskQueue']);
  });

  it('every alert rule reads only metrics the API and the workers export', () => {
    const unknown = alertRules.flatMap((rule) =>
      metricNamesIn(rule.expr)
        .filter((name) => !known.has(name))
        .map((name) => `${rule.alert}: ${name}`),
    );

    expect(alertRules.length).toBeGreaterThan(0);
    expect(unknown).toEqual([]);
  });

  it('every dashboard query reads only metrics the API and the workers export', () => {
    const unknown = dashboardTargets.flatMap(({ panel, target }) =>
      metricNamesIn(target.expr)
        .filter((name) => !known.has(name))
        .map((name) => `${panel.title}: ${name}`),
    );

    expect(dashboardTargets.length).toBeGreaterThan(0);
    expect(unknown).toEqual([]);
  });

  it('the dashboard shows every business metric', () => {
    const shown = new Set(dashboardTargets.flatMap(({ target }) => metricNamesIn(target.expr)));
    const missing = Object.entries(businessMetrics)
      .filter(([name, { type }]) => !sampleNamesOf(name, type).some((sample) => shown.has(sample)))
      .map(([name]) => name);

    expect(missing).toEqual([]);
  });

  it('no rule or panel groups or filters by a tenant or a person', () => {
    const expressions = [...alertRules.map((rule) => rule.expr), ...dashboardTargets.map(({ target }) => target.expr)];

    expect(expressions.filter((expr) => /tenant|customer|email|user/i.test(expr))).toEqual([]);
  });

  it('every alert has a severity, a summary and a description, and a unique name', () => {
    for (const rule of alertRules) {
      expect(rule).toMatchObject({
        alert: expect.stringMatching(/^Holdfast[A-Z]\w+$/),
        labels: { severity: expect.stringMatching(/^(critical|warning)$/) },
        annotations: { summary: expect.any(String), description: expect.any(String) },
      });
    }
    const names = alertRules.map((rule) => rule.alert);
    expect(new Set(names).size).toBe(names.length);
  });

  it('covers the seeds’ alerts: failure rate, stuck flows, backlog and the API’s 5xx', () => {
    const reads = (metric: string) => alertRules.some((rule) => metricNamesIn(rule.expr).includes(metric));

    expect(reads('temporal_workflow_failed')).toBe(true);
    expect(reads('temporal_activity_execution_failed')).toBe(true);
    expect(reads('holdfast_flows_completed_total')).toBe(true);
    expect(reads('temporal_workflow_task_schedule_to_start_latency_bucket')).toBe(true);
    expect(reads('temporal_activity_schedule_to_start_latency_bucket')).toBe(true);
    expect(
      alertRules.some((rule) => rule.expr.includes('http_request_duration_seconds_count{status_code=~"5.."}')),
    ).toBe(true);
  });

  it('the rules’ unit tests only name alerts that exist', () => {
    const tests = yamlOf('deploy/prometheus/alerts.test.yml') as {
      rule_files: string[];
      tests: Array<{ alert_rule_test: Array<{ alertname: string }> }>;
    };
    const names = new Set(alertRules.map((rule) => rule.alert));

    expect(tests.rule_files).toEqual(prometheus.rule_files);
    for (const test of tests.tests)
      for (const { alertname } of test.alert_rule_test) expect(names).toContain(alertname);
  });

  it('Prometheus loads the rules beside its configuration and scrapes the API with the metrics token', () => {
    for (const file of prometheus.rule_files)
      expect(fs.existsSync(path.join(root, 'deploy/prometheus', file))).toBe(true);
    const api = prometheus.scrape_configs.find((job) => job.job_name === 'holdfast-api')!;
    const service = compose.services.prometheus!;

    expect(api.metrics_path).toBe('/metrics');
    expect(api.static_configs).toEqual([{ targets: [`api:${compose.services.api!.environment?.API_PORT ?? '3000'}`] }]);
    expect(api.authorization?.type).toBe('Bearer');
    // The entrypoint writes the file Prometheus reads the token from.
    expect(service.entrypoint?.join(' ')).toContain(`> ${api.authorization!.credentials_file}`);
    // Required, in the API's environment as in Prometheus': the API's port is published.
    expect(service.environment?.METRICS_TOKEN).toMatch(/^\$\{METRICS_TOKEN:\?.+\}$/);
    expect(compose.services.api!.environment?.METRICS_TOKEN).toMatch(/^\$\{METRICS_TOKEN:\?.+\}$/);
    expect(service.volumes).toContain('./deploy/prometheus:/etc/prometheus:ro');
    expect(service.command).toContain('--config.file=/etc/prometheus/prometheus.yml');
  });

  it('Prometheus scrapes every worker container on the worker metrics port', () => {
    const workers = prometheus.scrape_configs.find((job) => job.job_name === 'holdfast-workers')!;
    const workerServices = Object.entries(compose.services)
      .filter(([, service]) => service.command?.includes('dist/workers/main.js'))
      .map(([name]) => name);
    const anchorPort = read('docker-compose.yml').match(/WORKER_METRICS_PORT: '(\d+)'/)![1];

    expect(workerServices.length).toBeGreaterThan(0);
    expect(workers.dns_sd_configs).toEqual([
      expect.objectContaining({ names: expect.arrayContaining(workerServices), type: 'A', port: Number(anchorPort) }),
    ]);
  });

  it('Grafana is provisioned with the Prometheus data source and the dashboard from the repository', () => {
    const grafana = compose.services.grafana!;
    const datasources = (
      yamlOf('deploy/grafana/provisioning/datasources/prometheus.yml') as {
        datasources: Array<{ uid: string; url: string; type: string }>;
      }
    ).datasources;
    const providers = (
      yamlOf('deploy/grafana/provisioning/dashboards/holdfast.yml') as {
        providers: Array<{ options: { path: string } }>;
      }
    ).providers;
    const mountOf = (host: string) => grafana.volumes!.find((volume) => volume.startsWith(`${host}:`))?.split(':')[1];

    expect(datasources).toEqual([expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090' })]);
    expect(providers.map((provider) => provider.options.path)).toEqual([mountOf('./deploy/grafana/dashboards')]);
    expect(mountOf('./deploy/grafana/provisioning')).toBe('/etc/grafana/provisioning');
    expect(grafana.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(
      `${mountOf('./deploy/grafana/dashboards')}/holdfast.json`,
    );
    expect(grafana.environment?.GF_AUTH_ANONYMOUS_ORG_ROLE).toBe('Viewer');
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      expect(panel.datasource?.uid).toBe(datasources[0]!.uid);
      for (const target of panel.targets ?? []) expect(target.datasource?.uid).toBe(datasources[0]!.uid);
    }
  });

  it('the dashboard’s panels have unique IDs and fit the 24-column grid', () => {
    const ids = dashboard.panels.map((panel) => panel.id);

    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.uid).toBe('holdfast-overview');
    for (const { gridPos } of dashboard.panels) expect(gridPos.x + gridPos.w).toBeLessThanOrEqual(24);
  });

  it('Prometheus and Grafana listen on the host’s loopback only, and keep their data in volumes', () => {
    for (const name of ['prometheus', 'grafana']) {
      const service = compose.services[name]!;
      expect(service.image).toMatch(/^(prom\/prometheus|grafana\/grafana):v?\d+\.\d+\.\d+$/);
      expect(service.ports?.length).toBeGreaterThan(0);
      for (const port of service.ports!) expect(port).toMatch(/^127\.0\.0\.1:/);
      for (const volume of service.volumes!) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('./')) expect(fs.existsSync(path.join(root, source))).toBe(true);
        else expect(Object.keys(compose.volumes)).toContain(source);
      }
    }
  });
});
