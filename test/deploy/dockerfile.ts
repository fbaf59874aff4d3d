import fs from 'node:fs';
import path from 'node:path';

/**
 * A small Dockerfile reader for the deploy tests: enough of the format (comments, line continuations, global
 * ARG defaults, stages, exec-form JSON, ENV pairs, COPY flags) to check what our two Dockerfiles say, without
 * a Docker daemon. It refuses what it does not understand rather than guessing.
 */

export const repoRoot = path.resolve(import.meta.dirname, '../..');

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface Stage {
  /** `FROM image AS name`; undefined when unnamed. */
  name: string | undefined;
  /** The image after global ARG defaults are substituted, or the name of an earlier stage. */
  from: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  file: string;
  /** Global ARGs (before the first FROM) with their defaults. */
  args: Map<string, string>;
  stages: Stage[];
}

export class DockerfileParseError extends Error {
  constructor(file: string, line: number, problem: string) {
    super(`${path.relative(repoRoot, file)}:${line}: ${problem}`);
    this.name = 'DockerfileParseError';
  }
}

function logicalLines(text: string): Array<{ text: string; line: number }> {
  const result: Array<{ text: string; line: number }> = [];
  let current: { text: string; line: number } | undefined;
  text.split('\n').forEach((raw, index) => {
    const trimmed = raw.trim();
    // Comment lines are dropped, also inside a continued instruction (as Docker does).
    if (trimmed.startsWith('#') || (trimmed === '' && !current)) return;
    const continued = trimmed.endsWith('\\');
    const part = continued ? trimmed.slice(0, -1).trim() : trimmed;
    if (current) current.text += ` ${part}`;
    else current = { text: part, line: index + 1 };
    if (!continued) {
      result.push(current);
      current = undefined;
    }
  });
  if (current) result.push(current);
  return result;
}

function substitute(value: string, args: Map<string, string>, file: string, line: number): string {
  return value.replace(/\$\{(\w+)\}|\$(\w+)/g, (_match, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    const resolved = args.get(name);
    if (resolved === undefined) throw new DockerfileParseError(file, line, `ARG ${name} has no default`);
    return resolved;
  });
}

export function parseDockerfile(file: string): Dockerfile {
  const absolute = path.resolve(repoRoot, file);
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const { text, line } of logicalLines(fs.readFileSync(absolute, 'utf8'))) {
    const match = /^(\w+)\s*(.*)$/s.exec(text);
    if (!match) throw new DockerfileParseError(absolute, line, `cannot read instruction: ${text}`);
    const keyword = match[1]!.toUpperCase();
    const rest = match[2]!;
    if (keyword === 'FROM') {
      const words = rest.split(/\s+/).filter((word) => !word.startsWith('--'));
      const named = words.length === 3 && words[1]!.toUpperCase() === 'AS';
      if (words.length !== 1 && !named) throw new DockerfileParseError(absolute, line, `unexpected FROM ${rest}`);
      stages.push({
        name: named ? words[2] : undefined,
        from: substitute(words[0]!, args, absolute, line),
        instructions: [],
      });
    } else if (stages.length === 0) {
      if (keyword !== 'ARG') throw new DockerfileParseError(absolute, line, `${keyword} before the first FROM`);
      const eq = rest.indexOf('=');
      args.set((eq < 0 ? rest : rest.slice(0, eq)).trim(), eq < 0 ? '' : rest.slice(eq + 1).trim());
    } else {
      stages.at(-1)!.instructions.push({ keyword, args: rest, line });
    }
  }
  if (stages.length === 0) throw new DockerfileParseError(absolute, 1, 'no FROM');
  return { file: absolute, args, stages };
}

export function finalStage(dockerfile: Dockerfile): Stage {
  return dockerfile.stages.at(-1)!;
}

export function stageNamed(dockerfile: Dockerfile, name: string): Stage {
  const stage = dockerfile.stages.find((s) => s.name === name);
  if (!stage) throw new Error(`${path.relative(repoRoot, dockerfile.file)} has no stage '${name}'`);
  return stage;
}

/** The stage and the stages it is built FROM, nearest first, then the external base image. */
export function stageChain(dockerfile: Dockerfile, stage: Stage): { stages: Stage[]; baseImage: string } {
  const stages = [stage];
  let current = stage;
  for (;;) {
    const parent = dockerfile.stages.find((s) => s.name === current.from);
    if (!parent) return { stages, baseImage: current.from };
    stages.push(parent);
    current = parent;
  }
}

export function instructions(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((instruction) => instruction.keyword === keyword);
}

/** Exec form (`["node", "x.js"]`) as an array; shell form is refused, since these images must not need a shell. */
export function execForm(instruction: Instruction): string[] {
  const text = instruction.keyword === 'HEALTHCHECK' ? healthcheckCommand(instruction) : instruction.args;
  if (!text.startsWith('[')) throw new Error(`line ${instruction.line}: ${instruction.keyword} is not in exec form`);
  return JSON.parse(text) as string[];
}

function healthcheckCommand(instruction: Instruction): string {
  const match = /^(?:--\S+\s+)*CMD\s+(.*)$/s.exec(instruction.args);
  if (!match) throw new Error(`line ${instruction.line}: HEALTHCHECK without CMD`);
  return match[1]!;
}

/** Splits on whitespace outside double quotes, removing the quotes. */
function words(text: string): string[] {
  const result: string[] = [];
  for (const match of text.matchAll(/(?:[^\s"]+|"(?:[^"\\]|\\.)*")+/g)) result.push(match[0].replace(/"/g, ''));
  return result;
}

/** `ENV A=1 B="two words"` (and the legacy `ENV A value`) as a map. */
export function envOf(instruction: Instruction): Map<string, string> {
  const pairs = words(instruction.args);
  if (pairs.length > 0 && !pairs[0]!.includes('=')) {
    return new Map([
      [pairs[0]!, instruction.args.slice(instruction.args.indexOf(pairs[0]!) + pairs[0]!.length).trim()],
    ]);
  }
  return new Map(
    pairs.map((pair) => {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new Error(`line ${instruction.line}: cannot read ENV pair '${pair}'`);
      return [pair.slice(0, eq), pair.slice(eq + 1)];
    }),
  );
}

/** The environment a stage's containers start with: ENV of the stage and of the stages it is built from. */
export function stageEnvironment(dockerfile: Dockerfile, stage: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const s of stageChain(dockerfile, stage).stages.reverse()) {
    for (const instruction of instructions(s, 'ENV')) for (const [k, v] of envOf(instruction)) env.set(k, v);
  }
  return env;
}

export interface Copy {
  from: string | undefined;
  sources: string[];
  destination: string;
  line: number;
}

export function copies(stage: Stage): Copy[] {
  return instructions(stage, 'COPY').map((instruction) => {
    const parts = words(instruction.args);
    const flags = parts.filter((part) => part.startsWith('--'));
    const paths = parts.filter((part) => !part.startsWith('--'));
    const from = flags.find((flag) => flag.startsWith('--from='))?.slice('--from='.length);
    if (paths.length < 2) throw new Error(`line ${instruction.line}: COPY needs a source and a destination`);
    return { from, sources: paths.slice(0, -1), destination: paths.at(-1)!, line: instruction.line };
  });
}
