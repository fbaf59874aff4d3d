import fs from 'node:fs';
import path from 'node:path';

/**
 * `.dockerignore` matching as Docker does it (moby/patternmatcher): patterns are relative to the context root,
 * `*` and `?` stay within one path segment, `**` spans any number of segments, a pattern that matches a
 * directory excludes everything below it, `!` re-includes, and the last matching pattern wins.
 */
export interface IgnoreRule {
  pattern: string;
  exclude: boolean;
  regex: RegExp;
}

function toRegex(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` also matches no directory at all; a trailing `**` matches everything below.
      if (pattern[i + 2] === '/') {
        source += '(?:.*/)?';
        i += 2;
      } else {
        source += '.*';
        i += 1;
      }
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[' || c === '\\') throw new Error(`.dockerignore: '${c}' in '${pattern}' is not supported here`);
    else source += c.replace(/[.+^${}()|]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

export function parseDockerignore(text: string): IgnoreRule[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const exclude = !line.startsWith('!');
      const pattern = path.posix.normalize((exclude ? line : line.slice(1)).trim()).replace(/^\/+|\/+$/g, '');
      return { pattern, exclude, regex: toRegex(pattern) };
    });
}

export function readDockerignore(root: string): IgnoreRule[] {
  return parseDockerignore(fs.readFileSync(path.join(root, '.dockerignore'), 'utf8'));
}

/** Whether `relativePath` (posix, relative to the context root) stays out of the build context. */
export function isIgnored(rules: IgnoreRule[], relativePath: string): boolean {
  const segments = relativePath.split('/');
  const candidates = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) {
    if (candidates.some((candidate) => rule.regex.test(candidate))) ignored = rule.exclude;
  }
  return ignored;
}

/** Every file under `dir` (relative to `root`), as posix paths relative to `root`. */
export function filesUnder(root: string, dir: string): string[] {
  const absolute = path.join(root, dir);
  if (fs.statSync(absolute).isFile()) return [dir];
  return (fs.readdirSync(absolute, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((entry) => entry.isFile())
    .map((entry) =>
      path
        .relative(root, path.join(entry.parentPath ?? entry.path, entry.name))
        .split(path.sep)
        .join('/'),
    );
}
