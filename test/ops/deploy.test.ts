// The deployment files under deploy/ (issue 6), checked without Docker or a cluster: the
// Kubernetes manifests parse and agree with each other and with lfsd's settings, the Dockerfile
// has the promised shape, the health check script works, and every metric the Grafana dashboard
// queries exists in /metrics.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { signingKeyProblem } from '../../src/auth/signing-key.js';
import { loadSettings } from '../../src/config/load-settings.js';
import { envName, settingNames } from '../../src/config/settings.js';
import { LFS_JSON } from '../helpers/content.js';
import { addUser, createTestApp, type TestApp } from '../helpers/test-app.js';
import { declaredMetrics, lfsdCommand } from './ops-helpers.js';

const ROOT = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? '../../' : '../../../', import.meta.url),
);
const DEPLOY = join(ROOT, 'deploy');

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are free-form YAML */
type Manifest = Record<string, any>;

async function manifests(): Promise<Manifest[]> {
  const dir = join(DEPLOY, 'kubernetes');
  const docs: Manifest[] = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const doc of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${file} parses`);
      docs.push(doc.toJS() as Manifest);
    }
  }
  return docs;
}

function find(docs: Manifest[], kind: string, name?: string): Manifest {
  const found = docs.find((d) => d.kind === kind && (name === undefined || d.metadata?.name === name));
  assert.ok(found, `a ${kind}${name ? ` named ${name}` : ''}`);
  return found;
}

describe('deploy/kubernetes', () => {
  let docs: Manifest[];
  let dir: string;
  before(async () => {
    docs = await manifests();
    dir = await mkdtemp(join(tmpdir(), 'lfsd-deploy-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('every document is a named Kubernetes object, and kustomization lists every file', async () => {
    for (const doc of docs) {
      assert.equal(typeof doc.apiVersion, 'string');
      assert.equal(typeof doc.kind, 'string');
      if (doc.kind !== 'Kustomization')
        assert.equal(typeof doc.metadata?.name, 'string', `${doc.kind} has a name`);
    }
    const kustomization = find(docs, 'Kustomization');
    const files = (await readdir(join(DEPLOY, 'kubernetes'))).filter(
      (f) => f.endsWith('.yaml') && f !== 'kustomization.yaml',
    );
    assert.deepEqual([...(kustomization.resources as string[])].sort(), files.sort());
  });

  /**
   * The Secret's keys written as files where the Deployment mounts them (under `dir`), and the
   * container's environment pointing at them: what the pod's lfsd sees. `replace` swaps values.
   */
  async function podEnvironment(replace: Record<string, string> = {}): Promise<NodeJS.ProcessEnv> {
    const deployment = find(docs, 'Deployment', 'lfsd');
    const pod = deployment.spec.template.spec as Manifest;
    const container = pod.containers.find((c: Manifest) => c.name === 'lfsd') as Manifest;
    const secretVolume = (pod.volumes as Manifest[]).find((v) => v.secret);
    const mountPath = (container.volumeMounts as Manifest[]).find((m) => m.name === secretVolume?.name)
      ?.mountPath as string;
    const podDir = join(dir, 'pod');
    await mkdir(join(podDir, mountPath), { recursive: true });
    const data = find(docs, 'Secret', secretVolume!.secret.secretName).stringData as Record<string, string>;
    for (const [key, value] of Object.entries({ ...data, ...replace }))
      await writeFile(join(podDir, mountPath, key), value);
    const configMap = find(docs, 'ConfigMap', 'lfsd-config');
    const env: NodeJS.ProcessEnv = {};
    for (const entry of container.env as Manifest[]) {
      const value = entry.value as string;
      env[entry.name as string] = value.startsWith(`${mountPath}/`) ? join(podDir, value) : value;
    }
    await mkdir(join(podDir, '/etc/lfsd'), { recursive: true });
    await writeFile(join(podDir, env.LFSD_CONFIG!), configMap.data['config.yaml'] as string);
    env.LFSD_CONFIG = join(podDir, env.LFSD_CONFIG!);
    return env;
  }

  it('the ConfigMap and the mounted Secret make a valid lfsd config for S3 + PostgreSQL, once the placeholders are replaced', async () => {
    const key = 'd'.repeat(8) + randomBytes(32).toString('hex');
    const settings = loadSettings({ env: await podEnvironment({ secret: `${key}\n` }) });
    assert.equal(settings.storage, 's3');
    assert.match(settings.databaseUrl!, /^postgres:\/\//);
    assert.equal(settings.secret, key, 'read from the mounted file, its newline trimmed');
    assert.ok(settings.metricsListen, 'probes and metrics on their own listener');
    assert.equal(settings.shutdownTimeout, 30);
  });

  it('as shipped, lfsd refuses to start on the placeholder key and says how to make one', async () => {
    const env = await podEnvironment();
    assert.throws(
      () => loadSettings({ env }),
      /secret: expected a signing key, not the example placeholder.*openssl rand -hex 32/,
    );
    const { code, stderr } = await lfsdCommand(
      ['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data')],
      {
        ...env,
        LFSD_STORAGE: 'disk',
      },
    );
    assert.equal(code, 2, stderr);
    assert.match(stderr, /configuration error: secret: expected a signing key, not the example placeholder/);
    assert.match(stderr, /openssl rand -hex 32/);
  });

  it('the Secret holds no usable value and no secret goes through the environment', () => {
    const secret = find(docs, 'Secret', 'lfsd-secrets');
    const data = secret.stringData as Record<string, string>;
    assert.ok(signingKeyProblem(data.secret!), 'the key is a placeholder lfsd refuses');
    for (const [name, value] of Object.entries(data)) assert.match(value, /REPLACE-ME/, name);
    assert.match(data['database-url']!, /^postgres:\/\//);
    assert.match(data['aws-credentials']!, /aws_access_key_id/);
    const deployment = find(docs, 'Deployment', 'lfsd');
    const container = deployment.spec.template.spec.containers[0] as Manifest;
    assert.equal(container.envFrom, undefined, 'no Secret as environment variables');
    const env = new Map((container.env as Manifest[]).map((e) => [e.name as string, e.value as string]));
    const known = new Set([...settingNames.map(envName), 'LFSD_CONFIG']);
    for (const key of [...env.keys()].filter((k) => k.startsWith('LFSD_'))) assert.ok(known.has(key), key);
    // every key of the Secret is read through a file variable, and only those
    const mounted = [...env.values()].filter((v) => v.startsWith('/etc/lfsd-secrets/'));
    assert.deepEqual(mounted.map((v) => v.split('/').pop()).sort(), Object.keys(data).sort());
    assert.ok(env.has('LFSD_SECRET_FILE') && env.has('LFSD_DATABASE_URL_FILE'));
  });

  it('the Deployment probes /healthz and /readyz, waits in preStop, and its grace period outlasts the drain', async () => {
    const deployment = find(docs, 'Deployment', 'lfsd');
    const pod = deployment.spec.template.spec as Manifest;
    const container = pod.containers.find((c: Manifest) => c.name === 'lfsd') as Manifest;
    const ports = new Map(
      (container.ports as Manifest[]).map((p) => [p.name as string, p.containerPort as number]),
    );

    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe]) {
      assert.ok(ports.has(probe.httpGet.port), `probe port ${probe.httpGet.port} is a container port`);
    }
    // the metrics listener the probes use is the one the config opens
    const configMap = find(docs, 'ConfigMap', 'lfsd-config');
    const file = join(dir, 'probe-config.yaml');
    await writeFile(file, configMap.data['config.yaml'] as string);
    const settings = loadSettings({ configFile: file, env: {} });
    assert.equal(
      ports.get(container.readinessProbe.httpGet.port),
      Number(settings.metricsListen!.split(':').pop()),
    );
    assert.equal(ports.get('http'), Number(settings.listen.split(':').pop()));

    const preStop = container.lifecycle.preStop.exec.command as string[];
    assert.equal(preStop[0], 'sleep');
    const preStopSeconds = Number(preStop[1]);
    assert.ok(preStopSeconds > 0);
    assert.ok(
      pod.terminationGracePeriodSeconds > preStopSeconds + settings.shutdownTimeout,
      `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} > preStop ${preStopSeconds} s + shutdownTimeout ${settings.shutdownTimeout} s`,
    );
    assert.equal(pod.enableServiceLinks, false, 'no injected LFSD_* service variables');
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.ok(pod.securityContext.runAsUser > 0);
    assert.deepEqual(container.args, ['serve']);

    // references resolve
    const secretVolume = (pod.volumes as Manifest[]).find((v) => v.secret);
    assert.equal(secretVolume?.secret.secretName, find(docs, 'Secret').metadata.name);
    assert.equal(secretVolume?.secret.defaultMode & 0o007, 0, 'the mounted secrets are not world-readable');
    const configVolume = (pod.volumes as Manifest[]).find((v) => v.configMap);
    assert.equal(configVolume?.configMap.name, configMap.metadata.name);
    const mount = (container.volumeMounts as Manifest[]).find((m) => m.name === configVolume?.name);
    const configEnv = (container.env as Manifest[]).find((e) => e.name === 'LFSD_CONFIG');
    assert.equal(configEnv?.value, `${mount?.mountPath}/config.yaml`);
  });

  it('the Service selects the Deployment pods and targets its named ports', () => {
    const deployment = find(docs, 'Deployment', 'lfsd');
    const service = find(docs, 'Service', 'lfsd');
    const labels = deployment.spec.template.metadata.labels as Record<string, string>;
    for (const [key, value] of Object.entries(service.spec.selector as Record<string, string>))
      assert.equal(labels[key], value);
    assert.deepEqual(deployment.spec.selector.matchLabels, service.spec.selector);
    const portNames = new Set(
      (deployment.spec.template.spec.containers[0].ports as Manifest[]).map((p) => p.name),
    );
    for (const port of service.spec.ports as Manifest[])
      assert.ok(portNames.has(port.targetPort), port.targetPort);
  });
});

describe('deploy/Dockerfile', () => {
  let text: string;
  before(async () => {
    text = await readFile(join(DEPLOY, 'Dockerfile'), 'utf8');
  });
  const instructions = () =>
    text
      .replace(/\\\n/g, ' ')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));

  it('is multi-stage, runs as a non-root user, has a health check and runs `lfsd serve`', () => {
    const lines = instructions();
    const froms = lines.filter((l) => /^FROM /i.test(l));
    assert.ok(froms.length >= 2, 'multi-stage');
    const finalStage = lines.slice(lines.lastIndexOf(froms.at(-1)!));
    assert.ok(
      finalStage.some((l) => /^COPY --from=build /.test(l)),
      'the final stage copies from the build stage',
    );
    const user = finalStage.filter((l) => /^USER /.test(l)).at(-1);
    assert.ok(user && !/^USER (root|0)(:|$)/.test(user), `non-root user: ${user}`);
    assert.ok(finalStage.some((l) => /^HEALTHCHECK .*CMD .*healthcheck\.mjs/.test(l)));
    const entrypoint = JSON.parse(
      finalStage.find((l) => l.startsWith('ENTRYPOINT '))!.slice('ENTRYPOINT '.length),
    ) as string[];
    const cmd = JSON.parse(finalStage.find((l) => l.startsWith('CMD '))!.slice('CMD '.length)) as string[];
    assert.deepEqual([...entrypoint, ...cmd], ['lfsd', 'serve']);
    assert.ok(finalStage.some((l) => /^EXPOSE .*\b8080\b/.test(l)));
    assert.ok(!finalStage.some((l) => /g\+\+|build-essential/.test(l)), 'no compiler in the runtime image');
  });

  it('copies only files that exist in the repository', async () => {
    for (const line of instructions().filter((l) => /^COPY (?!--from)/.test(l))) {
      const sources = line.split(/\s+/).slice(1, -1);
      for (const source of sources)
        await readFile(join(ROOT, source)).catch(async () => readdir(join(ROOT, source)));
    }
  });
});

describe('deploy/healthcheck.mjs and the Grafana dashboard against a running app', () => {
  let t: TestApp;
  let url: string;
  before(async () => {
    t = await createTestApp();
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
  });
  after(() => t.close());

  it('the health check exits 0 when lfsd answers /healthz and 1 when it does not', async () => {
    const run = (env: NodeJS.ProcessEnv) =>
      promisify(execFile)(process.execPath, [join(DEPLOY, 'healthcheck.mjs')], {
        env: { PATH: process.env.PATH, ...env },
      }).then(
        () => 0,
        (err: { code?: number }) => err.code ?? -1,
      );
    const port = new URL(url).port;
    assert.equal(await run({ LFSD_LISTEN: `0.0.0.0:${port}` }), 0);
    assert.equal(await run({ LFSD_LISTEN: '127.0.0.1:9', LFSD_METRICS_LISTEN: `127.0.0.1:${port}` }), 0);
    assert.equal(await run({ LFSD_LISTEN: '127.0.0.1:9' }), 1);
  });

  it('every metric the dashboard queries exists in /metrics', async () => {
    // some traffic first, so that labelled series exist too
    const alice = await addUser(t.deps, 'alice');
    await fetch(`${url}/alice/dash.git/info/lfs/objects/batch`, {
      method: 'POST',
      headers: { 'content-type': LFS_JSON, accept: LFS_JSON, authorization: alice.authorization },
      body: JSON.stringify({ operation: 'upload', objects: [{ oid: 'a'.repeat(64), size: 1 }] }),
    });
    const exposition = await (await fetch(`${url}/metrics`)).text();
    const declared = declaredMetrics(exposition);

    const dashboard = JSON.parse(
      await readFile(join(DEPLOY, 'grafana', 'lfsd-dashboard.json'), 'utf8'),
    ) as Manifest;
    assert.equal(typeof dashboard.uid, 'string');
    assert.equal(typeof dashboard.title, 'string');
    const exprs: string[] = [];
    const visit = (panels: Manifest[]) => {
      for (const panel of panels) {
        if (panel.panels) visit(panel.panels as Manifest[]);
        for (const target of (panel.targets ?? []) as Manifest[]) exprs.push(target.expr as string);
      }
    };
    visit(dashboard.panels as Manifest[]);
    for (const variable of dashboard.templating.list as Manifest[]) {
      if (typeof variable.definition === 'string') exprs.push(variable.definition);
    }
    assert.ok(exprs.length >= 15, `the dashboard has queries (${exprs.length})`);

    const queried = new Set(exprs.flatMap((expr) => expr.match(/\blfsd_[a-z0-9_]+/g) ?? []));
    const missing = [...queried].filter(
      (name) => !declared.has(name) && !declared.has(name.replace(/_(bucket|sum|count)$/, '')),
    );
    assert.deepEqual(missing, [], 'queried metrics that /metrics does not export');
    // the dashboard covers each area of the issue
    for (const name of [
      'lfsd_http_requests_total',
      'lfsd_http_request_duration_seconds_bucket',
      'lfsd_batch_objects_total',
      'lfsd_transfer_bytes_total',
      'lfsd_transfers_in_flight',
      'lfsd_store_operation_duration_seconds_bucket',
      'lfsd_store_errors_total',
      'lfsd_db_pool_connections_in_use',
      'lfsd_db_pool_waiting',
      'lfsd_db_query_duration_seconds_bucket',
      'lfsd_lock_operations_total',
      'lfsd_process_cpu_seconds_total',
      // limits and overload (issue 15)
      'lfsd_limited_requests_total',
      'lfsd_shed_requests_total',
      'lfsd_transfers_waiting',
      'lfsd_event_loop_delay_seconds',
      'lfsd_rate_limit_store_up',
    ]) {
      assert.ok(queried.has(name), `the dashboard shows ${name}`);
    }
    // every panel names its data source through the variable
    for (const panel of (dashboard.panels as Manifest[]).filter((p) => p.type !== 'row')) {
      assert.equal(panel.datasource?.uid, '${datasource}', panel.title);
    }
  });
});
