import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** The commit under measurement, marked `+` when the working tree differs from it; undefined outside a git checkout. */
export function measuredCommit(): string | undefined {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: path.resolve(__dirname, '..', '..'),
      encoding: 'utf8',
    }).trim();
    const changed = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: path.resolve(__dirname, '..', '..'),
      encoding: 'utf8',
    });
    return changed.trim() === '' ? commit : `${commit}+`;
  } catch {
    return undefined;
  }
}
