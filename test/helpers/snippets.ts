/**
 * Code blocks of the documentation, as test/docs-snippets.test.ts runs them.
 * The conventions (CONTRIBUTING.md, "Code blocks in the documentation"):
 *
 * - `<!-- fragment: why -->` on the line before a fence: not run, listed.
 * - `// file: name.ext` as a block's first line: written to that file of the
 *   page's scratch project; `// run` on a following header line runs it too.
 *   A JavaScript or TypeScript block without `// file:` is run as a program.
 * - `// node >= N` on a header line: run only on Node N or newer.
 *
 * Header lines are the comment lines at the very top of a block.
 */

export type SnippetKind = 'js' | 'ts' | 'shell' | 'other';

export interface Snippet {
  /** The page, relative to the repository root (`docs/api.md`). */
  readonly page: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The fence's info string, first word (`ts`, `sh`, `text`, or ''). */
  readonly lang: string;
  readonly kind: SnippetKind;
  /** The block's text, its fence's indentation removed. */
  readonly code: string;
  /** The file it is written to in the page's scratch directory. */
  readonly file: string;
  /** Whether it is run (as opposed to only written, for others to import). */
  readonly run: boolean;
  /** The oldest Node major line it runs on, from `// node >= N`. */
  readonly minNode: number | undefined;
  /** Why it cannot run, from `<!-- fragment: why -->`; undefined when it can. */
  readonly fragment: string | undefined;
}

const KINDS: Record<string, SnippetKind> = {
  js: 'js',
  mjs: 'js',
  cjs: 'js',
  javascript: 'js',
  ts: 'ts',
  mts: 'ts',
  typescript: 'ts',
  sh: 'shell',
  bash: 'shell',
  shell: 'shell',
  console: 'shell',
};

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/;
const FRAGMENT = /^\s*<!--\s*fragment:\s*(.*?)\s*-->\s*$/;
const FILE = /^\/\/ file: (\S+)$/;
const RUN = /^\/\/ run$/;
const NODE = /^\/\/ node >= (\d+)$/;

/** Every fenced code block of one Markdown page. */
export function extractSnippets(page: string, markdown: string): Snippet[] {
  const lines = markdown.split('\n');
  const snippets: Snippet[] = [];
  let previous = ''; // the last non-blank line before the current one
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) {
      if (lines[i]!.trim() !== '') previous = lines[i]!;
      continue;
    }
    const [, indent = '', fence = '', lang = ''] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const text = lines[j]!;
      if (text.trim().startsWith(fence) && text.trim().replace(/[`~]/g, '') === '') break;
      body.push(text.startsWith(indent) ? text.slice(indent.length) : text.trimStart());
    }
    if (j === lines.length) throw new Error(`${page}:${i + 1}: a code block is never closed`);
    snippets.push(snippet(page, i + 1, lang.toLowerCase(), body, FRAGMENT.exec(previous)?.[1]));
    previous = '';
    i = j;
  }
  return snippets;
}

function snippet(
  page: string,
  line: number,
  lang: string,
  body: string[],
  fragment: string | undefined,
): Snippet {
  const kind = KINDS[lang] ?? 'other';
  let file: string | undefined;
  let run = false;
  let minNode: number | undefined;
  for (const header of body) {
    const text = header.trim();
    const named = FILE.exec(text);
    const node = NODE.exec(text);
    if (named) file = named[1];
    else if (RUN.test(text)) run = true;
    else if (node) minNode = Number(node[1]);
    else if (!text.startsWith('//')) break;
  }
  const extension = kind === 'ts' ? 'ts' : 'mjs';
  return {
    page,
    line,
    lang,
    kind,
    code: body.join('\n') + '\n',
    file: file ?? `snippet-line-${line}.${extension}`,
    run: (kind === 'js' || kind === 'ts') && fragment === undefined && (run || file === undefined),
    minNode,
    fragment: fragment === undefined ? undefined : fragment || '(no reason given)',
  };
}

/** The npm scripts a shell block runs: `npm run <name>`, `npm test`, `npm start`. */
export function npmScripts(code: string): string[] {
  const names: string[] = [];
  for (const match of code.matchAll(/\bnpm (?:run(?:-script)? ([\w:.-]+)|(test|start)\b)/g)) {
    names.push(match[1] ?? match[2]!);
  }
  return names;
}

/** A page's prose: its code blocks removed. */
function prose(markdown: string): string {
  return markdown.replace(/^\s*(`{3,}|~{3,})[\s\S]*?^\s*\1/gm, '');
}

/** Relative links of a page (`[text](path#anchor)`); `path` is '' for the page itself. */
export function relativeLinks(markdown: string): { path: string; anchor: string }[] {
  const links: { path: string; anchor: string }[] = [];
  for (const match of prose(markdown).matchAll(/\]\(([^)\s]+)\)/g)) {
    const [path = '', anchor = ''] = match[1]!.split('#');
    if (!/^[a-z]+:/i.test(path)) links.push({ path, anchor });
  }
  return links;
}

/** The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to '-'. */
export function anchors(markdown: string): Set<string> {
  const slugs = new Set<string>();
  for (const match of prose(markdown).matchAll(/^#{1,6} (.+)$/gm)) {
    let slug = match[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    for (let n = 1; slugs.has(slug); n++) slug = `${slug.replace(/-\d+$/, '')}-${n}`;
    slugs.add(slug);
  }
  return slugs;
}
