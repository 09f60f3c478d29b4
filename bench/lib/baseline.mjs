// --baseline=<git-ref>: a temporary git worktree of that ref outside the
// repository, sharing this checkout's node_modules (a symlink), built with
// its own `npm run build` (tsc, then whatever that commit bundles), so the
// deadpool-baseline rows run the same scenarios from the dist/ its users got.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const git = (cwd, ...args) =>
  execFileSync('git', ['-C', cwd, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();

/**
 * Checks out and builds `ref`; returns { ref, sha, short, dir, remove() }.
 * Throws (after cleaning up) when the ref is unknown or the build fails.
 */
export function prepareBaseline(repo, ref) {
  const sha = git(repo, 'rev-parse', '--verify', `${ref}^{commit}`);
  const parent = mkdtempSync(join(tmpdir(), 'deadpool-baseline-'));
  const dir = join(parent, 'checkout');
  let added = false;
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    if (added) {
      try {
        git(repo, 'worktree', 'remove', '--force', dir);
      } catch {
        // removed below; prune forgets it
      }
    }
    rmSync(parent, { recursive: true, force: true });
    if (added) {
      try {
        git(repo, 'worktree', 'prune');
      } catch {
        // nothing to prune
      }
    }
  };
  try {
    git(repo, 'worktree', 'add', '--detach', dir, sha);
    added = true;
    symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'), 'dir');
    // Its own build: tsc alone would leave out the bundled worker entry, and
    // the baseline's workers would start from ten modules instead of one.
    execFileSync('npm', ['run', 'build', '--silent'], {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (!existsSync(join(dir, 'dist', 'index.js')))
      throw new Error(`the build of ${ref} made no dist/index.js`);
  } catch (error) {
    remove();
    const detail = [error.stdout, error.stderr].filter(Boolean).join('\n').slice(-2000);
    throw new Error(`--baseline=${ref}: ${error.message}${detail ? `\n${detail}` : ''}`, {
      cause: error,
    });
  }
  return { ref, sha, short: sha.slice(0, 8), dir, remove };
}
