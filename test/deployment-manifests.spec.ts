/**
 * The deployment files, checked offline (no Kubernetes API server, no Docker engine):
 *
 * - docker/k8s: every YAML document is parsed as Kubernetes parses it (YAML 1.1) and
 *   validated against the Kubernetes API schemas compiled into `kubernetes-models`
 *   (types, enums, required fields), plus unknown fields against the same package's
 *   declarations (what `kubectl --validate=strict` would refuse); then what this gateway
 *   needs of them: probes on /health and /ready, ports that meet, a grace period that
 *   covers the drain, settings that exist, the Secret the Deployment reads, the HPA and
 *   PDB aimed at the Deployment's pods, every file in the kustomization.
 * - docker/docker-compose.yml: the consistency of services, profiles and dependencies, and
 *   of the `cluster` profile's Redis Cluster (`docker compose config` validates its schema
 *   where the compose plugin is installed).
 *
 * Not run here: a real API server (admission, defaulting, quota, PSA), a container build,
 * `docker compose up`. `kubectl kustomize` and `docker compose config` run when installed.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { KubernetesObject, unknownFields } from './support/kubernetes-fields';

const ROOT = join(__dirname, '..');
const K8S = join(ROOT, 'docker', 'k8s');
const COMPOSE_FILE = join(ROOT, 'docker', 'docker-compose.yml');

/** Node's own variables, which comments may name beside the gateway's settings. */
const NODE_VARIABLES = ['NODE_EXTRA_CA_CERTS', 'NODE_ENV', 'NODE_OPTIONS'];

/** The gateway's settings and their defaults: every `NAME=value` line of .env.example, commented out or not. */
const envExample = readFileSync(join(ROOT, '.env.example'), 'utf8');
const DEFAULTS = new Map([...envExample.matchAll(/^#?[ \t]*([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((m) => [m[1], m[2].trim()]));
const SETTINGS = new Set(DEFAULTS.keys());
const notSettings = (names: Iterable<string>) => [...names].filter((n) => !SETTINGS.has(n));

// ---------------------------------------------------------------------------------------------
// Kubernetes
// ---------------------------------------------------------------------------------------------

interface Manifest {
  file: string;
  object: KubernetesObject;
}

// YAML 1.1, as Kubernetes reads manifests (sigs.k8s.io/yaml): `0440` is octal there.
const k8sFiles = readdirSync(K8S).filter((f) => /\.ya?ml$/.test(f)).sort();
const manifests: Manifest[] = k8sFiles.flatMap((file) =>
  parseAllDocuments(readFileSync(join(K8S, file), 'utf8'), { version: '1.1' }).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const object = doc.toJS() as KubernetesObject | null;
    return object ? [{ file, object }] : [];
  }),
);
const KUSTOMIZE_API = 'kustomize.config.k8s.io/v1beta1';
const objects = manifests.filter((m) => m.object.apiVersion !== KUSTOMIZE_API);

// Manifests are plain data, checked field by field below.
function only(kind: string): { file: string; object: any } {
  const found = manifests.filter((m) => m.object.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind} under docker/k8s, found ${found.length}`);
  return found[0];
}
const deployment = only('Deployment').object;
const service = only('Service').object;
const configMap = only('ConfigMap').object;
const secret = only('Secret');
const hpa = only('HorizontalPodAutoscaler').object;
const pdb = only('PodDisruptionBudget').object;
const kustomization = only('Kustomization').object;
const pod = deployment.spec.template.spec;
const podLabels: Record<string, string> = deployment.spec.template.metadata.labels;
const container = pod.containers.find((c: any) => c.name === 'gateway');

/** The container's environment as the gateway sees it: ConfigMaps from envFrom, then env (which wins). */
function containerEnv(): Map<string, { value?: string; from?: unknown }> {
  const env = new Map<string, { value?: string; from?: unknown }>();
  for (const source of container.envFrom ?? []) {
    if (!source.configMapRef) continue;
    const cm = objects.find((m) => m.object.kind === 'ConfigMap' && (m.object.metadata as { name: string }).name === source.configMapRef.name);
    for (const [name, value] of Object.entries((cm?.object.data ?? {}) as Record<string, string>)) env.set(name, { value });
  }
  for (const e of container.env ?? []) env.set(e.name, e.valueFrom ? { from: e.valueFrom } : { value: e.value });
  return env;
}
const env = containerEnv();

/** A setting's value in the pod: set there, else its default (.env.example). */
function setting(name: string): string {
  return env.get(name)?.value ?? DEFAULTS.get(name) ?? '';
}

/** A probe's or Service's port (a number or a container port's name) as a number. */
function containerPort(port: number | string): number | undefined {
  if (typeof port === 'number') return port;
  return container.ports?.find((p: { name?: string }) => p.name === port)?.containerPort;
}

const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

/**
 * What the Kubernetes API schema (as compiled into `kubernetes-models`: types, formats,
 * enums, required fields) says is wrong with an object; [] when it is valid.
 */
function schemaErrors(object: KubernetesObject): string[] {
  const specifier = `kubernetes-models/${object.apiVersion}/${object.kind}`;
  let Model: new (data: unknown) => { validate(): void };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    Model = require(specifier)[object.kind];
  } catch (err) {
    return [`no Kubernetes schema for ${object.apiVersion} ${object.kind} (${specifier}): ${(err as Error).message}`];
  }
  try {
    new Model(object).validate();
    return [];
  } catch (err) {
    const errors = (err as { errors?: Array<{ instancePath?: string; message?: string; keyword?: string }> }).errors;
    return Array.isArray(errors) && errors.length > 0 ? errors.map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}`) : [(err as Error).message];
  }
}

const onPath = (command: string) => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;

describe('docker/k8s', () => {
  it('holds the Deployment, Service, ConfigMap, example Secret, HPA, PDB and kustomization, one file each', () => {
    expect(manifests.map((m) => `${m.file}: ${m.object.kind}`).sort()).toEqual([
      'configmap.yaml: ConfigMap',
      'deployment.yaml: Deployment',
      'hpa.yaml: HorizontalPodAutoscaler',
      'kustomization.yaml: Kustomization',
      'pdb.yaml: PodDisruptionBudget',
      'secret.example.yaml: Secret',
      'service.yaml: Service',
    ]);
  });

  it('every object is valid against the Kubernetes API schemas (kubernetes-models)', () => {
    expect(objects.flatMap(({ file, object }) => schemaErrors(object).map((e) => `${file} (${object.kind}): ${e}`))).toEqual([]);
  });

  it('no object has a field its Kubernetes type does not declare (a misspelt field)', () => {
    const found = unknownFields(objects.map((m) => m.object));
    expect(found.flatMap((fields, i) => fields.map((f) => `${objects[i].file}: ${f}`))).toEqual([]);
  });

  describe('kustomization.yaml', () => {
    it('lists every manifest file, and not the example Secret (applying it would overwrite the real one)', () => {
      const expected = k8sFiles.filter((f) => f !== 'kustomization.yaml' && !f.endsWith('.example.yaml'));
      expect([...kustomization.resources].sort()).toEqual(expected);
      expect(kustomization.resources).not.toContain(secret.file);
    });

    it('sets the image of the Deployment’s container', () => {
      const [name] = String(container.image).split(':');
      expect(kustomization.images.map((i: { name: string }) => i.name)).toContain(name);
    });

    (onPath('kubectl') ? it : it.skip)('builds with kubectl kustomize (runs where kubectl is installed)', () => {
      const run = spawnSync('kubectl', ['kustomize', K8S], { encoding: 'utf8' });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      const built = parseAllDocuments(run.stdout, { version: '1.1' }).map((d) => d.toJS() as KubernetesObject);
      const listed = objects.filter((m) => kustomization.resources.includes(m.file)).map((m) => m.object);
      const id = (o: KubernetesObject) => `${o.kind}/${(o.metadata as { name: string }).name}`;
      expect(built.map(id).sort()).toEqual(listed.map(id).sort());
    });
  });

  describe('deployment.yaml', () => {
    it('runs at least 3 replicas of the Dockerfile’s image, with requests and limits', () => {
      expect(deployment.spec.replicas).toBeGreaterThanOrEqual(3);
      expect(readFileSync(join(ROOT, 'docker', 'Dockerfile'), 'utf8')).toMatch(/-t metadata-gateway\b/);
      expect(container.image).toMatch(/^metadata-gateway:/);
      expect(container.resources.requests).toEqual(expect.objectContaining({ cpu: expect.anything(), memory: expect.anything() }));
      expect(container.resources.limits).toEqual(expect.objectContaining({ memory: expect.anything() }));
      expect(matches(deployment.spec.selector.matchLabels, podLabels)).toBe(true);
    });

    it('listens on PORT, and the probes reach that port', () => {
      const port = Number(setting('PORT'));
      expect(container.ports.map((p: { containerPort: number }) => p.containerPort)).toEqual([port]);
      for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
        if (container[probe]) expect([probe, containerPort(container[probe].httpGet.port)]).toEqual([probe, port]);
      }
    });

    it('liveness on /health, readiness on /ready, with a timeout longer than /ready’s wait for Redis', () => {
      expect(container.livenessProbe.httpGet.path).toBe('/health');
      expect(container.readinessProbe.httpGet.path).toBe('/ready');
      if (container.startupProbe) expect(container.startupProbe.httpGet.path).toBe('/health');
      // /ready answers `degraded` (200) after waiting this long for the store; a probe timing out first would fail it.
      const controller = readFileSync(join(ROOT, 'libs', 'gateway', 'src', 'health.controller.ts'), 'utf8');
      const storeWaitMs = Number(/withDeadline\(this\.store\.ping\(\), ([\d_]+)\)/.exec(controller)?.[1].replace(/_/g, ''));
      expect(storeWaitMs).toBeGreaterThan(0);
      expect(container.readinessProbe.timeoutSeconds * 1000).toBeGreaterThan(storeWaitMs);
    });

    it('terminationGracePeriodSeconds covers the preStop sleep, SHUTDOWN_TIMEOUT and LANGFUSE_EXPORT_DRAIN_SECONDS, with a margin', () => {
      const preStop = container.lifecycle?.preStop;
      const sleep = preStop?.sleep ? Number(preStop.sleep.seconds) : preStop?.exec?.command?.[0] === 'sleep' ? Number(preStop.exec.command[1]) : 0;
      expect(sleep).toBeGreaterThanOrEqual(5); // endpoints are removed before SIGTERM
      const shutdown = Number(setting('SHUTDOWN_TIMEOUT'));
      const drain = Number(setting('LANGFUSE_EXPORT_DRAIN_SECONDS'));
      expect(shutdown).toBeGreaterThan(0);
      expect(drain).toBeGreaterThan(0);
      // The margin: the retry queue stored or spooled (one store attempt of at most 2 s), Redis closed, exit.
      const margin = 5;
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(sleep + shutdown + drain + margin);
    });

    it('sets only real settings of the gateway (env, and the keys of the ConfigMaps it loads)', () => {
      expect(env.size).toBeGreaterThan(3);
      expect(notSettings(env.keys())).toEqual([]);
      for (const source of container.envFrom ?? []) {
        expect(source.secretRef).toBeUndefined(); // secrets come in one by one (secretKeyRef), never a whole Secret as env
        expect(objects.some((m) => m.object.kind === 'ConfigMap' && (m.object.metadata as { name: string }).name === source.configMapRef?.name)).toBe(true);
      }
    });

    it('names only real settings in its comments and the ConfigMap’s (an example a reader copies)', () => {
      const named = k8sFiles.flatMap((f) =>
        readFileSync(join(K8S, f), 'utf8')
          .split('\n')
          .filter((line) => line.trimStart().startsWith('#'))
          .flatMap((line) => [...line.matchAll(/\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/g)].map((m) => m[0])),
      );
      expect(named.length).toBeGreaterThan(5);
      expect(notSettings(new Set(named)).filter((n) => !NODE_VARIABLES.includes(n))).toEqual([]);
    });

    it('reads the secrets file from the Secret at SECRETS_PATH, and REDIS_PASSWORD from the same Secret', () => {
      const secretName = secret.object.metadata.name;
      const keys = Object.keys({ ...secret.object.data, ...secret.object.stringData });
      const volume = pod.volumes.find((v: { secret?: { secretName: string } }) => v.secret?.secretName === secretName);
      expect(volume).toBeDefined();
      const mount = container.volumeMounts.find((m: { name: string }) => m.name === volume.name);
      expect(mount.readOnly).toBe(true);
      const item = volume.secret.items?.find((i: { key: string }) => i.key === 'secrets.yaml') ?? { key: 'secrets.yaml', path: 'secrets.yaml' };
      expect(keys).toContain(item.key);
      expect(setting('SECRETS_PATH')).toBe(`${mount.mountPath}/${item.path}`);
      expect(volume.secret.defaultMode).toBe(0o440);
      const password = env.get('REDIS_PASSWORD')?.from as { secretKeyRef: { name: string; key: string } };
      expect(password.secretKeyRef.name).toBe(secretName);
      expect(keys).toContain(password.secretKeyRef.key);
      expect(configMap.data.REDIS_PASSWORD).toBeUndefined();
    });

    it('runs as the image’s non-root user with a read-only root, no privilege escalation, no capabilities', () => {
      expect(readFileSync(join(ROOT, 'docker', 'Dockerfile'), 'utf8')).toMatch(/^USER node$/m); // uid 1000 in the node images
      const sc = container.securityContext;
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(sc.runAsUser ?? pod.securityContext.runAsUser).toBe(1000);
      expect(sc.readOnlyRootFilesystem).toBe(true);
      expect(sc.allowPrivilegeEscalation).toBe(false);
      expect(sc.capabilities.drop).toContain('ALL');
      expect(sc.capabilities.add ?? []).toEqual([]);
      expect(sc.privileged ?? false).toBe(false);
    });

    it('keeps SPOOL_DIR and /tmp on writable volumes (the root filesystem is read-only)', () => {
      for (const dir of [setting('SPOOL_DIR'), '/tmp']) {
        const mount = container.volumeMounts.find((m: { mountPath: string }) => dir === m.mountPath || dir.startsWith(`${m.mountPath}/`));
        const volume = pod.volumes.find((v: { name: string }) => v.name === mount?.name);
        expect([dir, mount?.readOnly ?? false, Boolean(volume?.emptyDir ?? volume?.persistentVolumeClaim)]).toEqual([dir, false, true]);
      }
    });

    it('spreads the replicas across nodes', () => {
      const spread = (pod.topologySpreadConstraints ?? []).filter(
        (c: { topologyKey: string; labelSelector: { matchLabels: Record<string, string> } }) => c.topologyKey === 'kubernetes.io/hostname' && matches(c.labelSelector.matchLabels, podLabels),
      );
      const antiAffinity = [
        ...(pod.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []),
        ...(pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((p: { podAffinityTerm: unknown }) => p.podAffinityTerm),
      ].filter((t: { topologyKey: string; labelSelector: { matchLabels: Record<string, string> } }) => t.topologyKey === 'kubernetes.io/hostname' && matches(t.labelSelector.matchLabels, podLabels));
      expect(spread.length + antiAffinity.length).toBeGreaterThan(0);
    });

    it('tells Prometheus where /metrics is', () => {
      const a = deployment.spec.template.metadata.annotations;
      expect(a['prometheus.io/scrape']).toBe('true');
      expect(Number(a['prometheus.io/port'])).toBe(Number(setting('PORT')));
      expect(a['prometheus.io/path']).toBe('/metrics');
    });
  });

  it('service.yaml: a ClusterIP on port 4000 whose targetPort is the container’s port, selecting the pods', () => {
    expect(service.spec.type ?? 'ClusterIP').toBe('ClusterIP');
    expect(service.spec.ports).toHaveLength(1);
    expect(service.spec.ports[0].port).toBe(4000);
    expect(containerPort(service.spec.ports[0].targetPort)).toBe(Number(setting('PORT')));
    expect(matches(service.spec.selector, podLabels)).toBe(true);
  });

  it('hpa.yaml: scales the Deployment on CPU, from 3 replicas, slowly down', () => {
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(3);
    expect(hpa.spec.minReplicas).toBeLessThanOrEqual(deployment.spec.replicas);
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    const cpu = hpa.spec.metrics.find((m: { type: string; resource?: { name: string } }) => m.type === 'Resource' && m.resource?.name === 'cpu');
    expect(cpu.resource.target.type).toBe('Utilization');
    expect(container.resources.requests.cpu).toBeDefined(); // Utilization is a share of the request
    // A replica removed drains for up to the grace period: scale down no faster than that.
    expect(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds).toBeGreaterThanOrEqual(pod.terminationGracePeriodSeconds);
  });

  it('pdb.yaml: selects the Deployment’s pods and lets one go at a time', () => {
    expect(matches(pdb.spec.selector.matchLabels, podLabels)).toBe(true);
    if (pdb.spec.maxUnavailable !== undefined) expect(pdb.spec.maxUnavailable).toBe(1);
    else expect(pdb.spec.minAvailable).toBeLessThan(hpa.spec.minReplicas);
  });

  it('configmap.yaml: a managed Redis Cluster, JSON logs', () => {
    expect(configMap.metadata.name).toBe(container.envFrom[0].configMapRef.name);
    expect(configMap.data.REDIS_CLUSTER_NODES).toMatch(/^[\w.-]+:\d+(,[\w.-]+:\d+)*$/);
    expect(['true', 'false']).toContain(configMap.data.REDIS_TLS);
    // One way to Redis only.
    expect(configMap.data.REDIS_URL ?? configMap.data.REDIS_HOST ?? configMap.data.REDIS_SENTINELS).toBeUndefined();
    expect(configMap.data.LOG_FORMAT).toBe('json');
  });

  it('secret.example.yaml: marked as an example, placeholders only, a secrets file the gateway can read', () => {
    const text = readFileSync(join(K8S, secret.file), 'utf8');
    expect(text.split('\n')[0]).toMatch(/^# EXAMPLE ONLY/);
    const file = parse(secret.object.stringData['secrets.yaml']) as { langfuse_keys: Record<string, { public_key: string; secret_key: string }>; default_project_id: string };
    expect(Object.keys(file.langfuse_keys)).toContain(file.default_project_id);
    for (const keys of Object.values(file.langfuse_keys)) {
      expect(keys.public_key).toMatch(/^pk-lf-REPLACE-ME$/);
      expect(keys.secret_key).toMatch(/^sk-lf-REPLACE-ME$/);
    }
    for (const value of Object.values(secret.object.stringData as Record<string, string>)) {
      // Nothing that looks like a real Langfuse key (pk-lf-/sk-lf- then a UUID or hex).
      expect(value).not.toMatch(/[ps]k-lf-[0-9a-f]{8}/i);
    }
    expect(secret.object.stringData['redis-password']).toMatch(/REPLACE-ME/);
  });
});

// ---------------------------------------------------------------------------------------------
// docker compose
// ---------------------------------------------------------------------------------------------

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string };
  profiles?: string[];
  hostname?: string;
  command?: string | string[];
  environment?: Record<string, string | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  volumes?: (string | { source?: string })[];
  ports?: string[];
  healthcheck?: unknown;
}
const composeText = readFileSync(COMPOSE_FILE, 'utf8');
// Compose resolves `<<` merge keys (the x- anchors) before it validates.
const compose = parse(composeText, { merge: true }) as { services: Record<string, ComposeService>; volumes?: Record<string, unknown> };
const services = Object.entries(compose.services);

const dependencies = (s: ComposeService): Record<string, { condition?: string }> =>
  Array.isArray(s.depends_on) ? Object.fromEntries(s.depends_on.map((d) => [d, {}])) : (s.depends_on ?? {});
const environment = (s: ComposeService): Record<string, string> =>
  Array.isArray(s.environment)
    ? Object.fromEntries(s.environment.map((e) => [e.split('=')[0], e.split('=').slice(1).join('=')]))
    : Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, v ?? '']));
const commandLine = (s: ComposeService) => (Array.isArray(s.command) ? s.command.join(' ') : (s.command ?? ''));
const isGateway = (s: ComposeService) => s.build?.dockerfile === 'docker/Dockerfile';
const inProfile = (profile: string) => services.filter(([, s]) => s.profiles?.includes(profile));
const clusterNodes = inProfile('cluster').filter(([, s]) => /--cluster-enabled yes/.test(commandLine(s)));
const clusterGateways = inProfile('cluster').filter(([, s]) => isGateway(s));

describe('docker/docker-compose.yml', () => {
  it('keeps the default setup: one Redis and one gateway, no profile', () => {
    const defaults = services.filter(([, s]) => !s.profiles).map(([name]) => name);
    expect(defaults).toEqual(['redis', 'gateway']);
    expect(environment(compose.services.gateway).REDIS_URL).toBe('redis://redis:6379');
    expect(Object.keys(dependencies(compose.services.gateway))).toEqual(['redis']);
  });

  it('depends only on services that exist and start with it (same profile, or none)', () => {
    const problems = services.flatMap(([name, s]) =>
      Object.keys(dependencies(s)).flatMap((dep) => {
        const target = compose.services[dep];
        if (!target) return [`${name} → ${dep}: no such service`];
        const started = !target.profiles || target.profiles.some((p) => s.profiles?.includes(p));
        return started ? [] : [`${name} → ${dep}: ${dep} is only in profiles ${target.profiles}`];
      }),
    );
    expect(problems).toEqual([]);
  });

  it('declares every named volume a service mounts', () => {
    const named = services.flatMap(([, s]) =>
      (s.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':')[0] : (v.source ?? ''))).filter((src) => src && !src.startsWith('.') && !src.startsWith('/')),
    );
    expect(named.filter((v) => !(v in (compose.volumes ?? {})))).toEqual([]);
  });

  it('sets only real settings of the gateway', () => {
    const gateways = services.filter(([, s]) => isGateway(s));
    expect(gateways.length).toBeGreaterThanOrEqual(3);
    expect(gateways.flatMap(([name, s]) => notSettings(Object.keys(environment(s))).map((n) => `${name}: ${n}`))).toEqual([]);
  });

  describe('profile cluster', () => {
    it('runs six Redis Cluster nodes, each announcing its own service name', () => {
      expect(clusterNodes.map(([name]) => name)).toHaveLength(6);
      for (const [name, s] of clusterNodes) {
        expect(s.hostname).toBe(name);
        expect(commandLine(s)).toMatch(/--cluster-announce-hostname "\$\$\(hostname\)"/);
        expect(commandLine(s)).toMatch(/--cluster-preferred-endpoint-type hostname/);
        expect(commandLine(s)).toMatch(/--port 6379\b/);
        expect(commandLine(s)).toMatch(/--appendonly yes/);
        expect(s.healthcheck).toBeDefined();
      }
    });

    it('creates the cluster (3 masters, 1 replica each) once every node is healthy', () => {
      const init = compose.services['redis-cluster-init'];
      expect(init.profiles).toEqual(['cluster']);
      expect(commandLine(init)).toMatch(/redis-cli --cluster create \$\$CLUSTER_NODES --cluster-replicas 1 --cluster-yes/);
      expect(environment(init).CLUSTER_NODES.split(' ')).toEqual(clusterNodes.map(([name]) => `${name}:6379`));
      expect(dependencies(init)).toEqual(Object.fromEntries(clusterNodes.map(([name]) => [name, { condition: 'service_healthy' }])));
    });

    it('runs two gateway replicas on it, started once the cluster exists', () => {
      expect(clusterGateways).toHaveLength(2);
      const nodes = new Set(clusterNodes.map(([name]) => `${name}:6379`));
      for (const [, s] of clusterGateways) {
        expect(dependencies(s)['redis-cluster-init']).toEqual({ condition: 'service_completed_successfully' });
        const e = environment(s);
        expect(e.REDIS_CLUSTER_NODES.split(',').filter((n) => !nodes.has(n))).toEqual([]);
        expect(e.REDIS_URL ?? e.REDIS_HOST).toBeUndefined();
      }
      // Their own consumer names (the host name) and host ports.
      expect(new Set(clusterGateways.map(([, s]) => s.hostname)).size).toBe(2);
      const published = services.flatMap(([, s]) => (s.ports ?? []).map((p) => String(p).split(':')[0]));
      expect(new Set(published).size).toBe(published.length);
    });
  });

  (onPath('docker') && spawnSync('docker', ['compose', 'version']).status === 0 ? it : it.skip)('docker compose config accepts it (runs where the compose plugin is installed)', () => {
    for (const profile of [[], ['--profile', 'cluster']]) {
      const run = spawnSync('docker', ['compose', '-f', COMPOSE_FILE, ...profile, 'config', '--quiet'], { encoding: 'utf8' });
      expect([profile.join(' '), run.status, run.stderr]).toEqual([profile.join(' '), 0, '']);
    }
  });
});

it('reads the settings from .env.example, the Redis topologies the manifests use included', () => {
  expect(DEFAULTS.size).toBeGreaterThan(40);
  expect(DEFAULTS.get('SHUTDOWN_TIMEOUT')).toMatch(/^\d+$/);
  for (const name of ['REDIS_CLUSTER_NODES', 'REDIS_SENTINELS', 'REDIS_TLS']) expect(DEFAULTS.has(name)).toBe(true);
});
