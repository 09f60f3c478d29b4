/**
 * Fake cgroupfs trees in a temporary directory, for the probing and path
 * logic: a directory with interface files, and a CgroupFs over it that acts
 * as the kernel does where it matters (rmdir of a cgroup with a process or a
 * child cgroup is EBUSY; a read-only mount answers EROFS or EACCES).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach } from 'vitest';
import { hostFs, type CgroupFs } from '../../src/parent/containment/cgroupfs.js';
import type { HostView } from '../../src/parent/containment/probe.js';

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export interface FakeTree {
  root: string;
  /** Create `rel` (a file, its directories too) with `text`. */
  file(rel: string, text?: string): void;
  fs: CgroupFs;
  /** Paths (under root) where writes and access checks fail with this code. */
  deny(rel: string, code: 'EROFS' | 'EACCES'): void;
  host(selfCgroup: string, overrides?: Partial<HostView>): HostView;
}

function errno(code: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${path}`), { code });
}

export function fakeTree(): FakeTree {
  const root = mkdtempSync(join(tmpdir(), 'fake-cgroupfs-'));
  made.push(root);
  const denied = new Map<string, string>();
  const deniedAt = (path: string): string | undefined => {
    for (const [prefix, code] of denied) if (path.startsWith(prefix)) return code;
    return undefined;
  };
  const fs: CgroupFs = {
    ...hostFs,
    write(path, text) {
      const code = deniedAt(path);
      if (code) throw errno(code, path);
      writeFileSync(path, text);
    },
    async writeAsync(path, text) {
      await Promise.resolve();
      fs.write(path, text);
    },
    notWritable(dir) {
      return deniedAt(dir) ?? hostFs.notWritable(dir);
    },
    mkdir(dir) {
      const code = deniedAt(dir);
      if (code) throw errno(code, dir);
      hostFs.mkdir(dir);
    },
    rmdir(dir) {
      const entries = readdirSync(dir, { withFileTypes: true });
      if (entries.some((e) => e.isDirectory())) throw errno('EBUSY', dir);
      let procs = '';
      try {
        procs = readFileSync(join(dir, 'cgroup.procs'), 'latin1');
      } catch {
        // none
      }
      if (procs.trim() !== '') throw errno('EBUSY', dir);
      rmSync(dir, { recursive: true });
    },
  };
  return {
    root,
    fs,
    file(rel, text = '') {
      const path = join(root, rel);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
    },
    deny(rel, code) {
      denied.set(join(root, rel), code);
    },
    host(selfCgroup, overrides = {}) {
      return {
        fs,
        root,
        selfCgroup,
        platform: 'linux',
        kernel: '6.8.0-45-generic',
        pid: 4242,
        ...overrides,
      };
    },
  };
}

/** A v2-only host where this process sits in a delegated systemd service cgroup. */
export function delegatedV2(procs = '4242\n'): { tree: FakeTree; self: string } {
  const tree = fakeTree();
  tree.file('cgroup.controllers', 'cpuset cpu io memory hugetlb pids rdma misc');
  const own = 'system.slice/app.service';
  tree.file(`${own}/cgroup.controllers`, 'cpu memory pids');
  tree.file(`${own}/cgroup.subtree_control`, '');
  tree.file(`${own}/cgroup.procs`, procs);
  tree.file(`${own}/cgroup.kill`);
  return { tree, self: `0::/${own}\n` };
}

/** A hybrid host like the one the suite runs on: v2 at unified/ (no controllers), v1 memory and pids. */
export function hybrid(): { tree: FakeTree; self: string } {
  const tree = fakeTree();
  tree.file('unified/cgroup.controllers', '');
  tree.file('unified/cgroup.procs', '1\n4242\n');
  tree.file('memory/cgroup.procs', '1\n');
  tree.file('memory/process_api/abc/cgroup.procs', '4242\n');
  tree.file('pids/cgroup.procs', '1\n4242\n');
  tree.file('cpuacct/cgroup.procs', '1\n4242\n');
  const self = [
    '9:name=systemd:/',
    '8:pids:/',
    '4:memory:/process_api/abc',
    '2:cpuacct:/',
    '0::/',
    '',
  ].join('\n');
  return { tree, self };
}
