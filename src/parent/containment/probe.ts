/**
 * Which containment this host allows, found at construction by looking (a
 * few reads and access checks, nothing created): a writable cgroup v2 tree
 * with `cgroup.kill` gives kind 'cgroup'; memory and pids limits come from v2
 * controllers where they can be enabled, else from writable v1 hierarchies.
 * Pure over a HostView, so it is tested against fake cgroupfs trees. What is
 * done with the answer is cgroups.ts's.
 */
import { basename, dirname, join } from 'node:path';
import type { CgroupFs } from './cgroupfs.js';

export type ContainmentMode = 'auto' | 'kernel' | 'process-group';
export type ContainmentKind = 'cgroup' | 'pid-namespace' | 'process-group';
export type ContainmentLimit = 'memory' | 'processes';

/** `pool.containment`: what contains this pool's workers. */
export interface ContainmentInfo {
  readonly kind: ContainmentKind;
  /** The limits the kernel enforces for this pool's workers. */
  readonly limits: readonly ContainmentLimit[];
  /** '' when kernel containment is in force, else why not, in one sentence. */
  readonly reason: string;
}

/** What the probe looks at: the host's, or a fake tree's. */
export interface HostView {
  readonly fs: CgroupFs;
  /** Where cgroupfs is mounted: '/sys/fs/cgroup'. */
  readonly root: string;
  /** The text of /proc/self/cgroup. */
  readonly selfCgroup: string;
  readonly platform: NodeJS.Platform;
  /** os.release() */
  readonly kernel: string;
  readonly pid: number;
  /** The shell the pool's sentinel runs in ('/bin/sh'); without one, workers run watchdog threads. */
  readonly shell?: string;
}

/** Where a pool's cgroups go, and how. */
export interface Layout {
  /** The v2 cgroup the pool's own cgroup is made in (kills, cpu accounting, emptiness). */
  readonly v2Base: string;
  /** v2-only hosts: the leaf this process moves into first so controllers can be enabled below its cgroup. */
  readonly leaf: string | undefined;
  /** v2 controllers to enable for the pool ('memory', 'pids'). */
  readonly v2Controllers: readonly ('memory' | 'pids')[];
  /** The v1 memory cgroup the pool's memory cgroup is made in, when memory is limited through v1. */
  readonly v1Memory: string | undefined;
  /** The v1 pids cgroup the pool's pids cgroup is made in, when processes are limited through v1. */
  readonly v1Pids: string | undefined;
}

export interface ProbeResult {
  readonly info: ContainmentInfo;
  readonly layout: Layout | undefined;
}

/** The cgroup a service moves itself into on a v2-only host before enabling controllers. */
export const LEAF = 'deadpool-leaf';

export const HOW_TO_ENABLE =
  'kernel containment needs a writable cgroup v2 subtree: run the service under systemd with Delegate=yes, in a container with a writable cgroup namespace (or --privileged), or as root';

function fallback(reason: string): ProbeResult {
  return { info: Object.freeze({ kind: 'process-group', limits: [], reason }), layout: undefined };
}

/** `hierarchy:controllers:path` lines: '' for v2, else each controller, to its path. */
export function parseSelfCgroup(text: string): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!match) continue;
    const [, , controllers, path] = match as unknown as [string, string, string, string];
    if (controllers === '') paths.set('', path);
    for (const name of controllers.split(',')) if (name !== '') paths.set(name, path);
  }
  return paths;
}

/** `path` (from /proc/self/cgroup) under `mount`, without a trailing slash. */
function under(mount: string, path: string): string {
  return join(mount, path).replace(/(.)\/+$/, '$1');
}

function atLeast(release: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = release.split(/[.-]/, 2).map(Number);
  return a > major || (a === major && b >= minor);
}

function words(text: string | undefined): string[] {
  return (text ?? '').split(/\s+/).filter((w) => w !== '');
}

/** A v1 hierarchy of `controller` whose cgroup of this process is writable. */
function v1Dir(host: HostView, paths: Map<string, string>, controller: string): string | undefined {
  const mount = join(host.root, controller);
  const path = paths.get(controller);
  if (path === undefined || !host.fs.exists(join(mount, 'cgroup.procs'))) return undefined;
  if (host.fs.exists(join(mount, 'cgroup.controllers'))) return undefined; // a v2 mount
  const dir = under(mount, path);
  return host.fs.notWritable(dir) === undefined ? dir : undefined;
}

export function probe(host: HostView, mode: ContainmentMode): ProbeResult {
  if (mode === 'process-group') return fallback("containment is 'process-group'");
  if (host.platform !== 'linux') {
    return fallback(`kernel containment needs Linux cgroups, and this is ${host.platform}`);
  }
  const paths = parseSelfCgroup(host.selfCgroup);
  const { fs, root } = host;
  let v2Mount: string | undefined;
  if (fs.exists(join(root, 'cgroup.controllers'))) v2Mount = root;
  else if (fs.exists(join(root, 'unified', 'cgroup.controllers'))) v2Mount = join(root, 'unified');
  const v2Path = paths.get('');
  if (v2Mount === undefined || v2Path === undefined) {
    return fallback(
      `no cgroup v2 hierarchy is mounted at ${root} or ${join(root, 'unified')}; ${HOW_TO_ENABLE}`,
    );
  }
  const own = under(v2Mount, v2Path);
  // An earlier pool of this process moved it into the leaf: its parent is the base.
  const inLeaf = basename(own) === LEAF;
  const base = inLeaf ? dirname(own) : own;
  // The real root has no cgroup.kill; a cgroup namespace's root (a container's) has one
  // and, unlike the real root, obeys the no-internal-processes rule.
  const hasKill = fs.exists(join(base, 'cgroup.kill'));
  const isRoot = base === v2Mount && !hasKill;
  if (!hasKill && !(isRoot && atLeast(host.kernel, 5, 14))) {
    return fallback(
      `the kernel has no cgroup.kill (Linux 5.14 or later is needed; this is ${host.kernel})`,
    );
  }
  const denied = fs.notWritable(base);
  if (denied !== undefined) {
    return fallback(`the cgroup ${base} is not writable (${denied}); ${HOW_TO_ENABLE}`);
  }
  // v2 controllers: enabled below `base` only while it holds no process (root
  // excepted), so a delegated service first moves itself into a leaf.
  const available = words(fs.read(join(base, 'cgroup.controllers')));
  const enabled = words(fs.read(join(base, 'cgroup.subtree_control')));
  const others = words(fs.read(join(base, 'cgroup.procs'))).filter((p) => Number(p) !== host.pid);
  const canEnable = isRoot || others.length === 0;
  const v2Controllers = (['memory', 'pids'] as const).filter(
    (c) => available.includes(c) && (enabled.includes(c) || canEnable),
  );
  const v1Memory = v2Controllers.includes('memory') ? undefined : v1Dir(host, paths, 'memory');
  const v1Pids = v2Controllers.includes('pids') ? undefined : v1Dir(host, paths, 'pids');
  const limits: ContainmentLimit[] = [];
  if (v2Controllers.includes('memory') || v1Memory) limits.push('memory');
  if (v2Controllers.includes('pids') || v1Pids) limits.push('processes');
  return {
    info: Object.freeze({ kind: 'cgroup', limits: Object.freeze(limits), reason: '' }),
    layout: {
      v2Base: base,
      leaf: v2Controllers.length > 0 && !isRoot && !inLeaf ? join(base, LEAF) : undefined,
      v2Controllers,
      v1Memory,
      v1Pids,
    },
  };
}
