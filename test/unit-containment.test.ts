import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';
import { Containment } from '../src/parent/containment/containment.js';
import { ownerGone, poolName, selfOwner } from '../src/parent/containment/owner.js';
import { LEAF, parseSelfCgroup, probe } from '../src/parent/containment/probe.js';
import { ContainmentError } from '../src/shared/errors.js';
import { delegatedV2, fakeTree, hybrid } from './helpers/fake-cgroupfs.js';

const NO_LIMITS = { memoryLimitBytes: Infinity, maxTaskProcesses: Infinity };

describe('probe: v2-only host, delegated service cgroup', () => {
  test('gives cgroup with both limits, through a leaf the service moves into', () => {
    const { tree, self } = delegatedV2();
    const { info, layout } = probe(tree.host(self), 'auto');
    expect(info).toEqual({ kind: 'cgroup', limits: ['memory', 'processes'], reason: '' });
    const own = join(tree.root, 'system.slice/app.service');
    expect(layout).toEqual({
      v2Base: own,
      leaf: join(own, LEAF),
      v2Controllers: ['memory', 'pids'],
      v1Memory: undefined,
      v1Pids: undefined,
    });
  });

  test('another process in the service cgroup: kills still work, limits cannot be enabled', () => {
    const { tree, self } = delegatedV2('4242\n77\n');
    const { info, layout } = probe(tree.host(self), 'auto');
    expect(info).toEqual({ kind: 'cgroup', limits: [], reason: '' });
    expect(layout?.leaf).toBeUndefined();
  });

  test('a second pool of a process already in the leaf uses the service cgroup as its base', () => {
    const { tree, self } = delegatedV2('');
    tree.file(`system.slice/app.service/${LEAF}/cgroup.procs`, '4242\n');
    const { info, layout } = probe(tree.host(`0::/system.slice/app.service/${LEAF}\n`), 'auto');
    expect(info.limits).toEqual(['memory', 'processes']);
    expect(layout?.v2Base).toBe(join(tree.root, 'system.slice/app.service'));
    expect(layout?.leaf).toBeUndefined();
    void self;
  });

  test('a kernel without cgroup.kill falls back, naming the version needed', () => {
    const { tree, self } = delegatedV2();
    const kill = join(tree.root, 'system.slice/app.service/cgroup.kill');
    tree.fs.exists = (path) => path !== kill && existsSync(path);
    const { info } = probe(tree.host(self, { kernel: '5.10.0' }), 'auto');
    expect(info.kind).toBe('process-group');
    expect(info.reason).toMatch(
      /cgroup\.kill \(Linux 5\.14 or later is needed; this is 5\.10\.0\)/,
    );
  });
});

describe('probe: v2 read-only (an unprivileged container)', () => {
  for (const code of ['EROFS', 'EACCES'] as const) {
    test(`${code} falls back to the process group and says how to enable the kernel`, () => {
      const { tree, self } = delegatedV2();
      tree.deny('system.slice', code);
      const { info, layout } = probe(tree.host(self), 'auto');
      expect(layout).toBeUndefined();
      expect(info.kind).toBe('process-group');
      expect(info.limits).toEqual([]);
      expect(info.reason).toContain(`is not writable (${code})`);
      expect(info.reason).toMatch(/Delegate=yes/);
      expect(info.reason).toMatch(/writable cgroup namespace/);
    });
  }

  test("'kernel' throws ContainmentError (ERR_DEADPOOL_CONTAINMENT) saying what is missing", () => {
    const { tree, self } = delegatedV2();
    tree.deny('system.slice', 'EROFS');
    let error: unknown;
    try {
      new Containment('kernel', NO_LIMITS, tree.host(self));
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ContainmentError);
    expect((error as ContainmentError).code).toBe('ERR_DEADPOOL_CONTAINMENT');
    expect((error as Error).message).toMatch(
      /'kernel' is not available.*not writable \(EROFS\).*Delegate=yes/,
    );
  });

  test('maxTaskProcesses throws at construction naming why', () => {
    const { tree, self } = delegatedV2();
    tree.deny('system.slice', 'EACCES');
    expect(
      () => new Containment('auto', { ...NO_LIMITS, maxTaskProcesses: 10 }, tree.host(self)),
    ).toThrow(/maxTaskProcesses needs the kernel's process limit: .*not writable \(EACCES\)/);
  });
});

describe('probe: hybrid host (v2 at unified/, v1 memory and pids)', () => {
  test('gives cgroup with memory and processes from v1, kills from the v2 root', () => {
    const { tree, self } = hybrid();
    const { info, layout } = probe(tree.host(self), 'auto');
    expect(info).toEqual({ kind: 'cgroup', limits: ['memory', 'processes'], reason: '' });
    expect(layout).toEqual({
      v2Base: join(tree.root, 'unified'),
      leaf: undefined,
      v2Controllers: [],
      v1Memory: join(tree.root, 'memory/process_api/abc'),
      v1Pids: join(tree.root, 'pids'),
    });
  });

  test('a read-only v1 pids hierarchy leaves only memory', () => {
    const { tree, self } = hybrid();
    tree.deny('pids', 'EROFS');
    expect(probe(tree.host(self), 'auto').info.limits).toEqual(['memory']);
  });

  test("'process-group' probes nothing", () => {
    const { tree, self } = hybrid();
    expect(probe(tree.host(self), 'process-group').info).toEqual({
      kind: 'process-group',
      limits: [],
      reason: "containment is 'process-group'",
    });
  });
});

describe('probe: no cgroups', () => {
  test('no v2 hierarchy falls back and says where it looked', () => {
    const tree = fakeTree();
    const { info } = probe(tree.host('4:memory:/\n'), 'auto');
    expect(info.kind).toBe('process-group');
    expect(info.reason).toContain(`no cgroup v2 hierarchy is mounted at ${tree.root}`);
  });

  test('another platform falls back, naming it', () => {
    const { tree, self } = hybrid();
    expect(probe(tree.host(self, { platform: 'darwin' }), 'auto').info.reason).toBe(
      'kernel containment needs Linux cgroups, and this is darwin',
    );
  });
});

describe('parseSelfCgroup', () => {
  test('maps v2 to "" and each v1 controller to its path', () => {
    const paths = parseSelfCgroup('3:cpu,cpuacct:/a\n4:memory:/b\n0::/c\n');
    expect(Object.fromEntries(paths)).toEqual({ cpu: '/a', cpuacct: '/a', memory: '/b', '': '/c' });
  });
});

describe('owner names', () => {
  const self = { ns: '4026531836', pid: 100, start: '5000' };

  test('a pool cgroup of a gone owner (pid free, or reused with another start time) is gone', () => {
    const name = poolName({ ns: self.ns, pid: 200, start: '6000' }, 1);
    expect(ownerGone(name, self, () => undefined)).toBe(true);
    expect(ownerGone(name, self, () => '7000')).toBe(true);
    expect(ownerGone(name, self, () => '6000')).toBe(false);
  });

  test('one of another pid namespace, or not named by deadpool, is never touched', () => {
    expect(
      ownerGone(poolName({ ns: '1', pid: 200, start: '6000' }, 1), self, () => undefined),
    ).toBe(false);
    expect(ownerGone('user.slice', self, () => undefined)).toBe(false);
  });

  test("this process's own pools are alive", () => {
    const me = selfOwner();
    expect(ownerGone(poolName(me, 3), me)).toBe(false);
  });
});

describe('Containment on a fake hybrid tree', () => {
  test('places a worker in v2, v1 memory and v1 pids cgroups with its limits, and removes them', async () => {
    const { tree, self } = hybrid();
    const c = new Containment(
      'auto',
      { memoryLimitBytes: 256 << 20, maxTaskProcesses: 8 },
      tree.host(self),
    );
    const cgroup = c.placeWorker()!;
    const { v2, memory, pids } = cgroup.dirs;
    expect(v2).toMatch(
      new RegExp(`^${tree.root}/unified/deadpool-\\d+-${process.pid}-\\d+-\\d+/w1$`),
    );
    expect(memory?.dir).toMatch(/memory\/process_api\/abc\/deadpool-[\d-]+\/w1$/);
    expect(readFileSync(join(memory!.dir, 'memory.limit_in_bytes'), 'latin1')).toBe(
      String(256 << 20),
    );
    // The pool moves the worker into all three, off the event loop.
    await cgroup.enter(4343);
    for (const dir of [v2, memory!.dir, pids!]) {
      expect(readFileSync(join(dir, 'cgroup.procs'), 'latin1')).toBe('4343');
    }
    expect(cgroup.boot()).toEqual({
      kill: join(v2, 'cgroup.kill'),
      pidsMax: join(pids!, 'pids.max'),
      processes: 8,
      // future.usage, counted by the worker: v1's peak is reset at each reading
      cpuStat: join(v2, 'cpu.stat'),
      memoryPeak: { file: join(memory!.dir, 'memory.max_usage_in_bytes'), resettable: true },
    });
    writeFileSync(join(v2, 'cgroup.procs'), '123\n'); // a process left in it
    writeFileSync(join(v2, 'cgroup.events'), 'populated 1\nfrozen 0\n');
    c.release(cgroup);
    await new Promise((resolve) => setImmediate(resolve));
    expect(readFileSync(join(v2, 'cgroup.kill'), 'latin1')).toBe('1');
    // the kill took it, from every hierarchy
    for (const dir of [v2, memory!.dir, pids!]) writeFileSync(join(dir, 'cgroup.procs'), '');
    await c.close();
    expect(tree.fs.subdirs(join(tree.root, 'unified'))).toEqual([]);
    expect(tree.fs.subdirs(join(tree.root, 'pids'))).toEqual([]);
    expect(tree.fs.subdirs(join(tree.root, 'memory/process_api/abc'))).toEqual([]);
  });

  /**
   * A fake hybrid tree whose cgroup.kill writes are recorded: 'sync' or
   * 'async' (libuv's thread pool). Moves wait for `moved`, if given.
   */
  function recordingKills(moved?: Promise<void>): {
    tree: ReturnType<typeof hybrid>['tree'];
    c: Containment;
    kills: string[];
  } {
    const { tree, self } = hybrid();
    const kills: string[] = [];
    const fs = {
      ...tree.fs,
      write(path: string, text: string): void {
        if (path.endsWith('cgroup.kill')) kills.push('sync');
        tree.fs.write(path, text);
      },
      async writeAsync(path: string, text: string): Promise<void> {
        if (moved && path.endsWith('cgroup.procs')) await moved;
        if (path.endsWith('cgroup.kill')) kills.push('async');
        return tree.fs.writeAsync(path, text);
      },
    };
    return { tree, c: new Containment('auto', NO_LIMITS, tree.host(self, { fs })), kills };
  }

  test('a released cgroup with a process left is killed at once, off the event loop; its figures read and its directories removed on a later turn', async () => {
    const { tree, c, kills } = recordingKills();
    const cgroup = c.placeWorker()!;
    const v2 = cgroup.dirs.v2;
    writeFileSync(join(v2, 'cpu.stat'), 'usage_usec 7000\n');
    writeFileSync(join(v2, 'cgroup.events'), 'populated 1\nfrozen 0\n');
    c.release(cgroup);
    // The kill is on its way, on libuv's thread pool. The future the exit
    // fails settles in this turn, and reads the figures from the cgroup itself.
    expect(kills).toEqual(['async']);
    expect(tree.fs.subdirs(dirname(v2))).toEqual([basename(v2)]);
    expect(cgroup.cpu()).toBe(7000);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(tree.fs.subdirs(dirname(v2))).toEqual([]);
    expect(cgroup.cpu()).toBe(7000); // the last figure, kept
    expect(kills.every((kind) => kind === 'async')).toBe(true);
    await c.close();
  });

  test('a released cgroup with nothing left in it is not written to', async () => {
    const { tree, c, kills } = recordingKills();
    const cgroup = c.placeWorker()!;
    writeFileSync(join(cgroup.dirs.v2, 'cgroup.events'), 'populated 0\nfrozen 0\n');
    c.release(cgroup);
    await c.close();
    expect(kills).toEqual([]);
    expect(tree.fs.subdirs(dirname(cgroup.dirs.v2))).toEqual([]);
  });

  test("an exited worker's cgroups are removed only once no worker is being moved in", async () => {
    const { tree, self } = hybrid();
    // A move that waits on the kernel until the test lets it go, as one
    // waiting for an RCU grace period does.
    let letGo = (): void => {};
    const held = new Promise<void>((resolve) => (letGo = resolve));
    const fs = {
      ...tree.fs,
      async writeAsync(path: string, text: string): Promise<void> {
        if (path.endsWith('cgroup.procs')) await held;
        return tree.fs.writeAsync(path, text);
      },
    };
    const c = new Containment('auto', NO_LIMITS, tree.host(self, { fs }));
    const gone = c.placeWorker()!;
    // As in an exit handler: the dead worker's cgroups are released, then its
    // replacement is forked, and moved in once the handler is done.
    c.release(gone);
    const next = c.placeWorker()!;
    const move = Promise.resolve().then(() => c.enter(next, 4343));
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    // An rmdir now would wait on the kernel with the event loop stalled.
    expect(tree.fs.subdirs(dirname(gone.dirs.v2)).sort()).toEqual(
      [basename(gone.dirs.v2), basename(next.dirs.v2)].sort(),
    );
    letGo();
    await move;
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(tree.fs.subdirs(dirname(gone.dirs.v2))).toEqual([basename(next.dirs.v2)]);
    // Its worker's end: the kernel takes 4343 out of every hierarchy.
    for (const dir of [next.dirs.v2, next.dirs.memory!.dir]) {
      writeFileSync(join(dir, 'cgroup.procs'), '');
    }
    c.release(next);
    await c.close();
    expect(tree.fs.subdirs(join(tree.root, 'unified'))).toEqual([]);
  });

  test('a move that ends after its worker was reaped (its pid may be another process now) goes no further, and what it may have moved in is moved out, not killed', async () => {
    const { tree, self } = hybrid();
    let letGo = (): void => {};
    const held = new Promise<void>((resolve) => (letGo = resolve));
    const writes: string[] = [];
    const fs = {
      ...tree.fs,
      write(path: string, text: string): void {
        writes.push(relative(tree.root, path));
        tree.fs.write(path, text);
      },
      async writeAsync(path: string, text: string): Promise<void> {
        writes.push(relative(tree.root, path));
        if (path.endsWith('cgroup.procs')) await held;
        await tree.fs.writeAsync(path, text);
        // The kernel takes a process moved to a base cgroup out of the worker's.
        for (const dir of [worker.dirs.v2, worker.dirs.memory!.dir]) {
          if (path === join(dirname(dirname(dir)), 'cgroup.procs')) {
            writeFileSync(join(dir, 'cgroup.procs'), '');
          }
        }
      },
    };
    const c = new Containment('auto', NO_LIMITS, tree.host(self, { fs }));
    const worker = c.placeWorker()!;
    let reaped = false;
    const move = c.enter(worker, 4242, () => reaped);
    await new Promise((resolve) => setImmediate(resolve));
    // The worker dies and is reaped while the write waits; the kernel then
    // reads 4242, by now another process, and moves it in.
    reaped = true;
    letGo();
    await expect(move).rejects.toMatchObject({ code: 'ESRCH' });
    const v2Procs = relative(tree.root, join(worker.dirs.v2, 'cgroup.procs'));
    const memoryProcs = relative(tree.root, join(worker.dirs.memory!.dir, 'cgroup.procs'));
    // No more writes of that pid (the v1 memory hierarchy's was next).
    expect(writes).toEqual([v2Procs]);
    expect(readFileSync(join(worker.dirs.v2, 'cgroup.procs'), 'latin1')).toBe('4242');
    writeFileSync(join(worker.dirs.v2, 'cgroup.events'), 'populated 1\nfrozen 0\n');
    c.release(worker);
    await c.close();
    // Moved out, to the cgroup the pool's own is in; never killed; and its cgroups gone.
    expect(writes).not.toContain(memoryProcs);
    expect(writes.filter((w) => w.endsWith('cgroup.kill'))).toEqual([]);
    expect(writes).toContain(
      relative(tree.root, join(dirname(dirname(worker.dirs.v2)), 'cgroup.procs')),
    );
    expect(existsSync(worker.dirs.v2)).toBe(false);
  });

  test("on a v2-only host, what a late move may have put in a worker cgroup goes to the leaf the pool's process is in", async () => {
    const { tree, self } = delegatedV2();
    const writes: string[] = [];
    const fs = {
      ...tree.fs,
      async writeAsync(path: string, text: string): Promise<void> {
        writes.push(relative(tree.root, path));
        await tree.fs.writeAsync(path, text);
        // The kernel takes the process out of the worker's cgroup as it moves it.
        if (dirname(path) !== worker.dirs.v2)
          writeFileSync(join(worker.dirs.v2, 'cgroup.procs'), '');
      },
    };
    const c = new Containment('auto', NO_LIMITS, tree.host(self, { fs }));
    const worker = c.placeWorker()!;
    // Reaped before the write's end: the kernel may have moved another process in.
    let reaped = false;
    const move = c.enter(worker, 4343, () => reaped);
    reaped = true;
    await expect(move).rejects.toMatchObject({ code: 'ESRCH' });
    c.release(worker);
    await c.close();
    // Not the pool's base, which has controllers enabled below it and takes no process.
    expect(writes).toContain('system.slice/app.service/deadpool-leaf/cgroup.procs');
    expect(writes).not.toContain('system.slice/app.service/cgroup.procs');
    expect(existsSync(worker.dirs.v2)).toBe(false);
  });

  test("a live worker's cgroup is killed at once, or, while a worker is being moved in, off the event loop", async () => {
    // A move that waits on the kernel until the test lets it go (an RCU grace
    // period); the kernel would hold any cgroupfs write as long.
    let letGo = (): void => {};
    const { c, kills } = recordingKills(new Promise<void>((resolve) => (letGo = resolve)));
    const busy = c.placeWorker()!;
    const killFile = join(busy.dirs.v2, 'cgroup.kill');
    expect(c.moving).toBe(false);
    expect(c.kill(busy)).toBe(true);
    expect(kills).toEqual(['sync']);
    expect(readFileSync(killFile, 'latin1')).toBe('1');
    writeFileSync(killFile, '');
    const next = c.placeWorker()!;
    const move = c.enter(next, 4343);
    expect(c.moving).toBe(true);
    expect(c.kill(busy)).toBe(false);
    // Not written while the move waits (it would wait with it): off the
    // event loop once the move is done, when the write would have landed.
    await new Promise((resolve) => setImmediate(resolve));
    expect(kills).toEqual(['sync']);
    letGo();
    await move;
    await c.whenNoMove();
    await new Promise((resolve) => setImmediate(resolve));
    expect(kills).toEqual(['sync', 'async']);
    expect(readFileSync(killFile, 'latin1')).toBe('1');
    expect(c.moving).toBe(false);
    expect(c.kill(busy)).toBe(true);
    expect(kills).toEqual(['sync', 'async', 'sync']);
    // The kill took 4343, from every hierarchy.
    for (const dir of [next.dirs.v2, next.dirs.memory!.dir]) {
      writeFileSync(join(dir, 'cgroup.procs'), '');
    }
    c.release(busy);
    c.release(next);
    await c.close();
  });

  test("another pool's move in this process counts too: the kernel's cgroup lock is one for the host", async () => {
    let letGo = (): void => {};
    const mover = recordingKills(new Promise<void>((resolve) => (letGo = resolve)));
    const other = recordingKills();
    const busy = other.c.placeWorker()!;
    const next = mover.c.placeWorker()!;
    const move = mover.c.enter(next, 4343);
    expect(other.c.moving).toBe(true);
    expect(other.c.kill(busy)).toBe(false);
    expect(other.kills).toEqual([]);
    letGo();
    await move;
    await other.c.whenNoMove();
    await new Promise((resolve) => setImmediate(resolve));
    expect(other.kills).toEqual(['async']);
    expect(other.c.kill(busy)).toBe(true);
    expect(other.kills).toEqual(['async', 'sync']);
    for (const dir of [next.dirs.v2, next.dirs.memory!.dir]) {
      writeFileSync(join(dir, 'cgroup.procs'), '');
    }
    mover.c.release(next);
    other.c.release(busy);
    await Promise.all([mover.c.close(), other.c.close()]);
  });

  test("a move the kernel refuses rejects with the kernel's error (the pool then counts a failed start)", async () => {
    const { tree, self } = hybrid();
    const cgroup = new Containment('auto', NO_LIMITS, tree.host(self)).placeWorker()!;
    tree.deny(relative(tree.root, cgroup.dirs.v2), 'EACCES');
    await expect(cgroup.enter(4343)).rejects.toMatchObject({ code: 'EACCES' });
  });

  test('without maxTaskProcesses no pids cgroup is made', () => {
    const { tree, self } = hybrid();
    const cgroup = new Containment('auto', NO_LIMITS, tree.host(self)).placeWorker()!;
    expect(cgroup.dirs.pids).toBeUndefined();
    expect(tree.fs.subdirs(join(tree.root, 'pids'))).toEqual([]);
  });

  test.each([
    ['kernel', NO_LIMITS, true],
    ['auto', { memoryLimitBytes: 256 << 20, maxTaskProcesses: Infinity }, true],
    ['auto', { memoryLimitBytes: Infinity, maxTaskProcesses: 8 }, true],
    ['auto', NO_LIMITS, false],
  ] as const)(
    "containment '%s' with limits %o: a worker whose cgroups cannot be made is refused: %s",
    (mode, limits, refused) => {
      const { tree, self } = hybrid();
      const c = new Containment(mode, limits, tree.host(self));
      const first = c.placeWorker()!;
      // The kernel refuses the next workers' directories (a cgroup.max.descendants, say).
      tree.deny(first.dirs.v2.slice(tree.root.length + 1).replace(/w1$/, 'w'), 'EACCES');
      if (refused) {
        expect(() => c.placeWorker()).toThrow(ContainmentError);
        expect(() => c.placeWorker()).toThrow(/a worker runs only inside its cgroups here/);
      } else {
        expect(c.placeWorker()).toBeUndefined(); // it runs in its process group
      }
    },
  );

  test('nested cgroups (a pool made inside a task) are removed deepest first', async () => {
    const { tree, self } = hybrid();
    const c = new Containment('auto', NO_LIMITS, tree.host(self));
    const cgroup = c.placeWorker()!;
    tree.file(join(cgroup.dirs.v2.slice(tree.root.length), 'deadpool-1-2-3-1/w1/cgroup.kill'));
    c.release(cgroup);
    await c.close();
    expect(tree.fs.subdirs(join(tree.root, 'unified'))).toEqual([]);
  });

  test('at its first worker a pool removes the cgroups of gone owners, and only theirs', () => {
    const { tree, self } = hybrid();
    const me = selfOwner();
    const dead = poolName({ ns: me.ns, pid: 4_194_304, start: '1' }, 1); // above any pid_max
    const live = poolName(me, 999);
    const foreign = poolName({ ns: '1', pid: 4_194_304, start: '1' }, 1);
    for (const name of [dead, live, foreign]) tree.file(`unified/${name}/w1/cgroup.kill`);
    tree.file(`memory/process_api/abc/${dead}/w1/cgroup.procs`);
    new Containment('auto', NO_LIMITS, tree.host(self)).placeWorker();
    const left = tree.fs.subdirs(join(tree.root, 'unified'));
    expect(left).not.toContain(dead);
    expect(left).toContain(live);
    expect(left).toContain(foreign);
    expect(tree.fs.subdirs(join(tree.root, 'memory/process_api/abc'))).not.toContain(dead);
  });
});

describe('Containment on a fake delegated v2 tree', () => {
  test('moves this process into the leaf, enables memory and pids, and limits the worker in v2', async () => {
    const { tree, self } = delegatedV2(`${process.pid}\n`);
    const own = join(tree.root, 'system.slice/app.service');
    const c = new Containment(
      'auto',
      { memoryLimitBytes: 1 << 30, maxTaskProcesses: 4 },
      tree.host(self, { pid: process.pid }),
    );
    const cgroup = c.placeWorker()!;
    expect(readFileSync(join(own, LEAF, 'cgroup.procs'), 'latin1')).toBe(String(process.pid));
    expect(readFileSync(join(own, 'cgroup.subtree_control'), 'latin1')).toBe('+memory +pids');
    const v2 = cgroup.dirs.v2;
    expect(cgroup.dirs.memory).toEqual({ dir: v2, v1: false });
    expect(cgroup.dirs.pids).toBe(v2);
    expect(readFileSync(join(v2, 'memory.max'), 'latin1')).toBe(String(1 << 30));
    expect(readFileSync(join(v2, 'memory.oom.group'), 'latin1')).toBe('1');
    await cgroup.enter(4343); // the pool moves the worker, once, into the v2 cgroup
    expect(readFileSync(join(v2, 'cgroup.procs'), 'latin1')).toBe('4343');
    expect(cgroup.boot().memoryPeak).toEqual({
      file: join(v2, 'memory.peak'),
      resettable: false,
    });
  });
});

describe('probe: a container with a writable cgroup namespace', () => {
  test('its namespace root has cgroup.kill: not the real root, so the pool moves into a leaf', () => {
    const tree = fakeTree();
    tree.file('cgroup.controllers', 'memory pids');
    tree.file('cgroup.subtree_control', '');
    tree.file('cgroup.procs', '4242\n');
    tree.file('cgroup.kill');
    const { info, layout } = probe(tree.host('0::/\n'), 'auto');
    expect(info.limits).toEqual(['memory', 'processes']);
    expect(layout?.leaf).toBe(join(tree.root, LEAF));
  });
});
